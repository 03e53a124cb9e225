//! Adding a paper: read the file, extract its text, store the original, the text and the sections
//! as blobs and the metadata in the paper store. Extraction happens before anything is written,
//! so a file that cannot be read leaves nothing behind. The id derives from the content, so the
//! same file twice is the same paper.

use std::path::{Path, PathBuf};

use crate::clients::blobs::{BlobError, BlobStore, sha256_hex};
use crate::clients::papers::{PaperOrigin, PaperRecord, PaperStore, PaperStoreError};
use crate::extract::{ExtractError, Format, extract};

/// Largest file accepted (a 20-million-character paper as text is about 20 MB; PDFs are larger).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Why a paper could not be added.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A workflow's `source` that is not a file under the allowed roots. One message for every
    /// refusal (outside the roots, a symlink, `..`, missing), so that the answer tells nothing
    /// about the worker's file system.
    #[error(
        "source {given:?} is not a file under the worker's allowed roots (worker.source-roots); add the paper with `annapurna paper add FILE` or `annapurna run FILE` and start it by paper_id"
    )]
    SourceNotAllowed {
        /// The source as given.
        given: String,
    },
    /// No such file.
    #[error("paper file {path} does not exist; check the path")]
    NotFound {
        /// The path given.
        path: String,
    },
    /// Not a regular file.
    #[error("{path} is not a regular file; give the paper's file")]
    NotAFile {
        /// The path given.
        path: String,
    },
    /// Extension not supported.
    #[error(
        "{path}: unsupported format {ext:?}; give a .pdf, .tex, .md or .txt file, or Paper2Code's .json"
    )]
    Unsupported {
        /// The path given.
        path: String,
        /// Its extension.
        ext: String,
    },
    /// Too large.
    #[error("{path} is {bytes} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The path given.
        path: String,
        /// Its size.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The content could not be read as a paper.
    #[error("{path}: {source}")]
    Unreadable {
        /// The path given.
        path: String,
        /// Why.
        #[source]
        source: ExtractError,
    },
    /// Reading the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path given.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Storing the blobs failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Storing the metadata failed.
    #[error(transparent)]
    Store(#[from] PaperStoreError),
}

impl IngestError {
    /// A type name for the Web UI.
    pub fn type_name(&self) -> &'static str {
        match self {
            IngestError::SourceNotAllowed { .. } => "SourceNotAllowed",
            IngestError::NotFound { .. } | IngestError::NotAFile { .. } => "PaperNotFound",
            IngestError::Unsupported { .. } => "UnsupportedPaperFormat",
            IngestError::TooLarge { .. } => "PaperTooLarge",
            IngestError::Unreadable { .. } => "UnparseablePaper",
            IngestError::Io { .. } | IngestError::Blob(_) | IngestError::Store(_) => "StorageError",
        }
    }
    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            IngestError::Io { .. } | IngestError::Store(_) => true,
            IngestError::Blob(b) => b.is_retryable(),
            _ => false,
        }
    }
}

/// The file a workflow's `source` names, when it is allowed: an absolute path (or `file://` URI)
/// to a regular file under one of `roots`, with no `..` and no symbolic link anywhere below the
/// root. Anything else, `s3://` and other schemes included, is [`IngestError::SourceNotAllowed`],
/// with the same message whatever the reason. No roots: every source is refused (the default
/// for workers; `annapurna run FILE` adds the paper from the CLI instead).
pub fn allowed_source(source: &str, roots: &[PathBuf]) -> Result<PathBuf, IngestError> {
    let refuse = || IngestError::SourceNotAllowed {
        given: source.chars().take(200).collect(),
    };
    let path = Path::new(source.strip_prefix("file://").unwrap_or(source));
    if !path.is_absolute()
        || path.components().any(|c| {
            !matches!(
                c,
                std::path::Component::RootDir | std::path::Component::Normal(_)
            )
        })
    {
        return Err(refuse());
    }
    let real = std::fs::canonicalize(path).map_err(|_| refuse())?;
    let is_file = std::fs::symlink_metadata(&real).is_ok_and(|m| m.file_type().is_file());
    for root in roots {
        let (Ok(root_real), Ok(below)) = (std::fs::canonicalize(root), path.strip_prefix(root))
        else {
            continue;
        };
        // Resolving changed nothing below the root: no symbolic link on the way.
        if is_file && real == root_real.join(below) {
            return Ok(real);
        }
    }
    Err(refuse())
}

/// A readable id: the title's slug and the start of the content hash.
pub fn paper_id(title: &str, sha256: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "paper" } else { slug };
    format!("{slug}-{}", &sha256[..10])
}

/// Adds the paper at `source` (a path or `file://` URI). Returns the record and whether it is new.
pub async fn add_paper(
    blobs: &BlobStore,
    papers: &PaperStore,
    source: &str,
) -> Result<(PaperRecord, bool), IngestError> {
    let path_str = source.strip_prefix("file://").unwrap_or(source);
    let path = PathBuf::from(path_str);
    let shown = source.to_owned();
    let meta = match tokio::fs::metadata(&path).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(IngestError::NotFound { path: shown });
        }
        Err(source) => {
            return Err(IngestError::Io {
                path: shown,
                source,
            });
        }
    };
    if !meta.is_file() {
        return Err(IngestError::NotAFile { path: shown });
    }
    let format = Format::from_path(path_str).ok_or_else(|| IngestError::Unsupported {
        path: shown.clone(),
        ext: Path::new(path_str)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default(),
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(IngestError::TooLarge {
            path: shown,
            bytes: meta.len(),
            max: MAX_FILE_BYTES,
        });
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|source| IngestError::Io {
            path: shown.clone(),
            source,
        })?;
    add_bytes(blobs, papers, bytes, format, shown, Provenance::default()).await
}

/// What the caller knows of a paper beyond its bytes (feeds know title and abstract).
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The title to keep instead of the one found in the text.
    pub title: Option<String>,
    /// The feed entry.
    pub origin: Option<PaperOrigin>,
    /// The first stage (`added` when empty).
    pub stage: String,
}

/// Adds a paper from its bytes: extraction first (nothing is written for an unreadable paper),
/// then the original, the text and the sections as blobs, then the record. `source` names the
/// paper in messages and in the record.
pub async fn add_bytes(
    blobs: &BlobStore,
    papers: &PaperStore,
    bytes: impl Into<bytes::Bytes>,
    format: Format,
    source: String,
    provenance: Provenance,
) -> Result<(PaperRecord, bool), IngestError> {
    let bytes: bytes::Bytes = bytes.into();
    let shown = source;
    let sha256 = sha256_hex(&bytes);
    if let Some(existing) = papers.get_by_sha256(&sha256).await? {
        return Ok((existing, false));
    }
    let (bytes, extracted) = tokio::task::spawn_blocking(move || {
        let r = extract(&bytes, format);
        (bytes, r)
    })
    .await
    .expect("extraction does not panic past catch_unwind");
    let extracted = extracted.map_err(|source| IngestError::Unreadable {
        path: shown.clone(),
        source,
    })?;
    let title = provenance
        .title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(extracted.title);
    let id = paper_id(&title, &sha256);
    let original = blobs
        .put(&format!("papers/{id}/original.{}", format.as_str()), bytes)
        .await?;
    let characters = extracted.text.chars().count() as u64;
    let text = blobs
        .put(&format!("papers/{id}/text.txt"), extracted.text)
        .await?;
    let sections_json = serde_json::to_vec(&extracted.sections).expect("sections serialise");
    let sections_blob = blobs
        .put(&format!("papers/{id}/sections.json"), sections_json)
        .await?;
    let record = PaperRecord {
        id,
        title,
        source: shown,
        format: format.as_str().to_owned(),
        sha256,
        characters,
        sections: extracted.sections.iter().map(|s| s.title.clone()).collect(),
        text,
        sections_blob,
        original,
        status: if provenance.stage.is_empty() {
            "added".into()
        } else {
            provenance.stage
        },
        added_at: String::new(),
        origin: provenance.origin,
        judgement: None,
    };
    Ok(papers.insert(&record).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_only_under_the_roots_without_links_or_dots() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("papers");
        std::fs::create_dir(&root).unwrap();
        let paper = root.join("p.md");
        std::fs::write(&paper, "# P\n").unwrap();
        let outside = dir.path().join("secret.md");
        std::fs::write(&outside, "secret\n").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link.md")).unwrap();
        let roots = vec![root.clone()];
        assert_eq!(
            allowed_source(paper.to_str().unwrap(), &roots).unwrap(),
            paper.canonicalize().unwrap()
        );
        assert!(allowed_source(&format!("file://{}", paper.display()), &roots).is_ok());
        let refused = [
            outside.display().to_string(),
            root.join("link.md").display().to_string(),
            format!("{}/../secret.md", root.display()),
            root.join("missing.md").display().to_string(),
            root.display().to_string(),
            "p.md".into(),
            "s3://bucket/p.pdf".into(),
            "/etc/hostname".into(),
        ];
        let mut messages = std::collections::BTreeSet::new();
        for s in &refused {
            let e = allowed_source(s, &roots).unwrap_err();
            assert_eq!(e.type_name(), "SourceNotAllowed", "{s}");
            messages.insert(e.to_string().replace(s.as_str(), "<source>"));
        }
        assert_eq!(
            messages.len(),
            1,
            "one message for every refusal: {messages:?}"
        );
        assert!(
            allowed_source(paper.to_str().unwrap(), &[]).is_err(),
            "no roots: nothing"
        );
    }

    #[test]
    fn ids_are_readable_and_stable() {
        let sha = "0123456789abcdef";
        assert_eq!(
            paper_id("Attention Is All You Need", sha),
            "attention-is-all-you-need-0123456789"
        );
        assert_eq!(paper_id("∑∑∑", sha), "paper-0123456789");
    }
}
