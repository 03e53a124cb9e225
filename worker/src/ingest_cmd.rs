//! `annapurna ingest` (start `IngestPapers` now) and `annapurna schedule create|describe|delete`
//! (a Temporal Schedule that starts it, say daily for arXiv cs.LG).

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use temporalio_client::schedules::{
    CreateScheduleOptions, DeleteScheduleOptions, ScheduleAction, ScheduleSpec,
};
use workflows::IngestPapers;
use workflows::names::TASK_QUEUE;
use workflows::types::{FeedQuery, IngestPapersInput, PaperBatchInput, PaperToCodeInput};

/// Which feeds, and what to do with what they bring.
#[derive(Args, Debug, Clone)]
pub struct FeedArgs {
    /// arXiv categories, comma-separated (cs.LG,stat.ML).
    #[arg(long)]
    pub arxiv: Option<String>,
    /// arXiv: submissions of the last N days (what a daily schedule wants).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub days: Option<u32>,
    /// arXiv: first submission day, YYYY-MM-DD.
    #[arg(long)]
    pub from: Option<String>,
    /// arXiv: last submission day, YYYY-MM-DD.
    #[arg(long)]
    pub to: Option<String>,
    /// OpenReview venue and year, VENUE:YEAR with VENUE one of ICLR, ICML, NeurIPS (repeatable).
    #[arg(long = "openreview", value_name = "VENUE:YEAR")]
    pub openreview: Vec<String>,
    /// MLSys proceedings of a year, such as 2024 (repeatable).
    #[arg(long = "mlsys", value_name = "YEAR")]
    pub mlsys: Vec<u32>,
    /// Only papers with this term in the title or abstract, in every feed named (arXiv searches
    /// itself; OpenReview and MLSys entries are matched as they are read).
    #[arg(long, value_name = "TERM")]
    pub search: Option<String>,
    /// At most this many entries per feed (matching --search, when given).
    #[arg(long, default_value_t = 50)]
    pub max_results: u32,
    /// Index every new paper without asking the judge.
    #[arg(long)]
    pub no_judge: bool,
    /// Papers downloaded and judged at once.
    #[arg(long, default_value_t = 4)]
    pub max_concurrent: u32,
    /// Start a PaperBatch over the newly indexed papers.
    #[arg(long)]
    pub batch: bool,
    /// Papers of that batch at once.
    #[arg(long, default_value_t = 4, requires = "batch")]
    pub batch_concurrent: u32,
    /// The batch does not execute the generated code.
    #[arg(long, requires = "batch")]
    pub no_execute: bool,
}

impl FeedArgs {
    /// The workflow input these arguments describe; a clear error when they name no feed.
    pub fn input(&self) -> anyhow::Result<IngestPapersInput> {
        let search = activities::feeds::SearchTerm::parse(self.search.as_deref())
            .map_err(|e| anyhow::anyhow!("--search: {e}"))?
            .map(|term| term.as_str().to_owned());
        let mut feeds = Vec::new();
        if let Some(cats) = &self.arxiv {
            let categories: Vec<String> = cats
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect();
            if categories.is_empty() {
                bail!("--arxiv needs categories such as cs.LG or cs.LG,stat.ML");
            }
            activities::feeds::arxiv_search_query(
                &categories,
                self.from.as_deref(),
                self.to.as_deref(),
            )
            .map_err(|e| anyhow::anyhow!("--arxiv/--from/--to: {e}"))?;
            feeds.push(FeedQuery::Arxiv {
                categories,
                from: self.from.clone(),
                to: self.to.clone(),
                days: self.days,
                max_results: self.max_results,
                search: search.clone(),
            });
        }
        for venue_year in &self.openreview {
            let Some((venue, year)) = venue_year.split_once(':') else {
                bail!("--openreview {venue_year:?}: give VENUE:YEAR, such as ICLR:2024");
            };
            let year: u32 = year.parse().with_context(|| {
                format!("--openreview {venue_year:?}: the year must be a number, such as ICLR:2024")
            })?;
            activities::feeds::openreview_venue_id(venue, year)
                .map_err(|e| anyhow::anyhow!("--openreview {venue_year:?}: {e}"))?;
            feeds.push(FeedQuery::OpenReview {
                venue: venue.to_owned(),
                year,
                max_results: self.max_results,
                search: search.clone(),
            });
        }
        for &year in &self.mlsys {
            activities::feeds::mlsys_year_url("", year)
                .map_err(|e| anyhow::anyhow!("--mlsys {year}: {e}"))?;
            feeds.push(FeedQuery::Mlsys {
                year,
                search: search.clone(),
                max_results: self.max_results,
            });
        }
        if feeds.is_empty() {
            bail!(
                "name a feed: --arxiv CATEGORIES (e.g. cs.LG), --openreview VENUE:YEAR and/or \
                 --mlsys YEAR"
            );
        }
        Ok(IngestPapersInput {
            feeds,
            judge: Some(!self.no_judge),
            max_concurrent: Some(self.max_concurrent),
            batch: self.batch.then(|| PaperBatchInput {
                max_concurrent: Some(self.batch_concurrent),
                paper: self.no_execute.then(|| PaperToCodeInput {
                    execute: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            entries_per_run: None,
            carried: None,
            invalid_input: None,
        })
    }
}

/// Starts IngestPapers; with `follow`, waits and prints the summary.
pub async fn ingest(feeds: &FeedArgs, follow: bool) -> anyhow::Result<()> {
    crate::wiring::start_from_cli(IngestPapers::run, feeds.input()?, "ingest", follow).await
}

/// When a schedule fires: a cron expression or an interval.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct When {
    /// A cron expression, UTC ("0 6 * * *": every day at 06:00).
    #[arg(long)]
    pub cron: Option<String>,
    /// An interval ("24h", "30m").
    #[arg(long)]
    pub every: Option<String>,
}

/// Registers a Temporal Schedule that starts IngestPapers (workflow ids `ingest/<schedule-id>-…`).
pub async fn schedule_create(
    id: &str,
    when: &When,
    feeds: &FeedArgs,
    trigger_now: bool,
) -> anyhow::Result<()> {
    let input = feeds.input()?;
    let spec = match (&when.cron, &when.every) {
        (Some(cron), _) => ScheduleSpec::builder()
            .cron_strings(vec![cron.clone()])
            .build(),
        (None, Some(every)) => {
            let every: Duration = humantime::parse_duration(every).with_context(|| {
                format!("--every {every:?}: give an interval such as 24h or 30m")
            })?;
            if every < Duration::from_secs(60) {
                bail!("--every must be at least a minute; the feeds ask for a polite rate");
            }
            ScheduleSpec::from_interval(every)
        }
        (None, None) => bail!("give --cron EXPR or --every INTERVAL"),
    };
    let client = crate::wiring::temporal_client(None).await?;
    let action = ScheduleAction::start_workflow(
        IngestPapers::run,
        input,
        TASK_QUEUE,
        format!("ingest/{id}"),
    );
    let options = CreateScheduleOptions::builder()
        .action(action)
        .spec(spec)
        .trigger_immediately(trigger_now)
        .note("created by annapurna schedule create")
        .build();
    client
        .create_schedule(id, options)
        .await
        .with_context(|| format!("creating schedule {id:?} (an existing one must be deleted first: `annapurna schedule delete {id}`)"))?;
    println!("{id}");
    eprintln!(
        "schedule {id} created; see it with `temporal schedule describe --schedule-id {id}` or in the Web UI"
    );
    Ok(())
}

/// Prints a schedule's state as JSON.
pub async fn schedule_describe(id: &str) -> anyhow::Result<()> {
    let client = crate::wiring::temporal_client(None).await?;
    let d = client
        .get_schedule_handle(id)
        .describe(Default::default())
        .await
        .with_context(|| format!("no schedule {id:?}"))?;
    let next: Vec<String> = d
        .future_action_times()
        .into_iter()
        .take(5)
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .collect();
    let recent: Vec<String> = d
        .recent_actions()
        .into_iter()
        .map(|a| a.workflow_id)
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "schedule_id": id,
            "paused": d.paused(),
            "actions": d.action_count(),
            "next": next,
            "recent_workflows": recent,
        }))?
    );
    Ok(())
}

/// Deletes a schedule (running ingestions go on).
pub async fn schedule_delete(id: &str) -> anyhow::Result<()> {
    let client = crate::wiring::temporal_client(None).await?;
    client
        .get_schedule_handle(id)
        .delete(DeleteScheduleOptions::default())
        .await
        .with_context(|| format!("deleting schedule {id:?}"))?;
    eprintln!("schedule {id} deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        feeds: FeedArgs,
    }

    fn input(args: &[&str]) -> anyhow::Result<IngestPapersInput> {
        let mut argv = vec!["ingest"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)?.feeds.input()
    }

    #[test]
    fn feeds_from_arguments() {
        let i = input(&[
            "--arxiv",
            "cs.LG, stat.ML",
            "--days",
            "1",
            "--openreview",
            "ICLR:2024",
        ])
        .unwrap();
        assert_eq!(
            i.feeds,
            vec![
                FeedQuery::Arxiv {
                    categories: vec!["cs.LG".into(), "stat.ML".into()],
                    from: None,
                    to: None,
                    days: Some(1),
                    max_results: 50,
                    search: None,
                },
                FeedQuery::OpenReview {
                    venue: "ICLR".into(),
                    year: 2024,
                    max_results: 50,
                    search: None,
                },
            ]
        );
        assert_eq!(i.judge, Some(true));
        assert!(i.batch.is_none());
        let b = input(&["--arxiv", "cs.LG", "--batch", "--no-execute", "--no-judge"]).unwrap();
        assert_eq!(b.judge, Some(false));
        let batch = b.batch.expect("a batch");
        assert_eq!(batch.paper.and_then(|p| p.execute), Some(false));
    }

    #[test]
    fn a_search_term_goes_to_every_feed() {
        let i = input(&[
            "--openreview",
            "ICLR:2025",
            "--mlsys",
            "2024",
            "--search",
            "  LLM ",
            "--max-results",
            "300",
        ])
        .unwrap();
        assert_eq!(
            i.feeds,
            vec![
                FeedQuery::OpenReview {
                    venue: "ICLR".into(),
                    year: 2025,
                    max_results: 300,
                    search: Some("LLM".into()),
                },
                FeedQuery::Mlsys {
                    year: 2024,
                    search: Some("LLM".into()),
                    max_results: 300,
                },
            ]
        );
        // The JSON of a feed without a term is what it was before terms existed.
        let plain = input(&["--mlsys", "2023"]).unwrap();
        assert_eq!(
            serde_json::to_value(&plain.feeds).unwrap(),
            serde_json::json!([{"kind": "mlsys", "year": 2023, "max_results": 50}])
        );
    }

    #[test]
    fn bad_feed_arguments_name_what_to_give() {
        for (args, expected) in [
            (vec![], "--arxiv"),
            (vec!["--arxiv", ","], "categories"),
            (vec!["--openreview", "ICLR"], "VENUE:YEAR"),
            (vec!["--openreview", "ICLR:next"], "number"),
            (vec!["--openreview", "CVPR:2024"], "NeurIPS"),
            (vec!["--mlsys", "24"], "MLSys year 24"),
            (vec!["--mlsys", "next"], "next"),
            (
                vec!["--mlsys", "2024", "--search", "say \"hi\""],
                "--search",
            ),
            (
                vec!["--arxiv", "cs.LG", "--from", "2026-13-01"],
                "2026-13-01",
            ),
        ] {
            let err = format!("{:#}", input(&args).unwrap_err());
            assert!(err.contains(expected), "{args:?}: {err}");
        }
        // --days and --from exclude each other.
        assert!(input(&["--arxiv", "cs.LG", "--days", "1", "--from", "2026-11-01"]).is_err());
    }
}
