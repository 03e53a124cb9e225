//! FetchFeed: the feed's entries, each stored as a blob (malformed ones too, with their

use crate::prelude::*;

/// Entries one feed may bring in one fetch.
pub const MAX_FEED_ENTRIES: u32 = 1_000;

/// FetchFeed: the feed's entries, each stored as a blob (malformed ones too, with their
/// problem, so that the report can name them).
pub async fn fetch_feed(d: Call<'_>, input: FetchFeedInput) -> Out<Vec<FeedItemRef>> {
    let max = input.feed.max_results();
    if max > MAX_FEED_ENTRIES {
        return Err(permanent(
            "BadFeedQuery",
            format!(
                "max_results {max} is over {MAX_FEED_ENTRIES} entries per feed; split the \
                 feed by date range or category, or schedule it more often"
            ),
        ));
    }
    let entries = crate::feeds::fetch(&d.http, &d.sources, &input.feed).await?;
    let mut items = Vec::with_capacity(entries.len());
    for (n, entry) in entries.iter().enumerate() {
        let key = if entry.source_id.is_empty() {
            format!("{}:entry-{n}", entry.source)
        } else {
            format!("{}:{}", entry.source, entry.source_id)
        };
        let json = serde_json::to_vec(entry).expect("a feed entry serialises");
        let name: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let blob = d
            .blobs
            .put(
                &format!("feeds/{name}-{}.json", short(&sha256_hex(&json))),
                json,
            )
            .await?;
        items.push(FeedItemRef {
            key,
            title: entry.title.chars().take(200).collect(),
            entry: blob,
            problem: entry.problem.clone(),
        });
    }
    Ok(items)
}
