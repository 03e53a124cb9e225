//! The blob store: immutable, content-verified blobs under keys that derive from what they hold,
//! so a retried activity overwrites the same object. Local file system by default, S3 when the
//! location is `s3://bucket/prefix` (both through `object_store`).

use std::sync::Arc;

use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path};
use sha2::{Digest, Sha256};
use workflows::types::BlobRef;

/// What went wrong with a blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The store could not be opened.
    #[error("cannot open blob store at {location}: {reason}")]
    Open {
        /// The configured location.
        location: String,
        /// Why.
        reason: String,
    },
    /// The URI does not belong to this store.
    #[error("blob {uri} is not in this store ({base}); check storage.blobs in the configuration")]
    Foreign {
        /// The blob's URI.
        uri: String,
        /// This store's base URI.
        base: String,
    },
    /// The blob is missing.
    #[error("blob {uri} does not exist")]
    Missing {
        /// The blob's URI.
        uri: String,
    },
    /// The blob's content does not match its reference.
    #[error("blob {uri} is corrupt: expected sha256 {expected}, found {found}")]
    Corrupt {
        /// The blob's URI.
        uri: String,
        /// Expected hash.
        expected: String,
        /// Actual hash.
        found: String,
    },
    /// Reading or writing failed.
    #[error("blob store I/O on {uri} failed: {source}")]
    Io {
        /// The blob's URI.
        uri: String,
        /// Cause.
        #[source]
        source: object_store::Error,
    },
}

impl BlobError {
    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, BlobError::Io { .. })
    }
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Settings of an S3 blob store that take precedence over the standard `AWS_*` environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Overrides {
    /// Endpoint of an S3-compatible store (`ANNAPURNA_S3_ENDPOINT`).
    pub endpoint: Option<String>,
    /// Access key id (`ANNAPURNA_S3_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret access key (`ANNAPURNA_S3_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
}

impl S3Overrides {
    /// From the `ANNAPURNA_S3_*` environment.
    pub fn from_env() -> Self {
        Self {
            endpoint: std::env::var("ANNAPURNA_S3_ENDPOINT").ok(),
            access_key_id: std::env::var("ANNAPURNA_S3_ACCESS_KEY_ID").ok(),
            secret_access_key: std::env::var("ANNAPURNA_S3_SECRET_ACCESS_KEY").ok(),
        }
    }
}

/// A blob store rooted at one location.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// URI of the root, without a trailing slash: `file:///abs/dir` or `s3://bucket/prefix`.
    base: String,
}

impl BlobStore {
    /// Opens `location`: a local directory (created if missing) or `s3://bucket/prefix` (AWS
    /// credentials, region and endpoint from the standard `AWS_*` environment, overridden by
    /// `ANNAPURNA_S3_ENDPOINT`, `ANNAPURNA_S3_ACCESS_KEY_ID`, `ANNAPURNA_S3_SECRET_ACCESS_KEY`).
    pub fn open(location: &str) -> Result<Self, BlobError> {
        Self::open_with(location, &S3Overrides::from_env())
    }

    /// As [`BlobStore::open`], with the S3 overrides given instead of read from the environment.
    pub fn open_with(location: &str, overrides: &S3Overrides) -> Result<Self, BlobError> {
        let open_err = |reason: String| BlobError::Open {
            location: location.to_owned(),
            reason,
        };
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            // The standard AWS_* environment, with the overrides taking precedence so that an
            // S3-compatible store (MinIO) can have credentials apart from Bedrock's.
            let mut builder =
                object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &overrides.endpoint {
                builder = builder
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_endpoint(endpoint);
            }
            if let Some(key) = &overrides.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &overrides.secret_access_key {
                builder = builder.with_secret_access_key(secret);
            }
            let s3 = builder.build().map_err(|e| open_err(e.to_string()))?;
            let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(
                    s3,
                    prefix.trim_matches('/'),
                ))
            };
            let base = format!("s3://{}", rest.trim_end_matches('/'));
            return Ok(Self { store, base });
        }
        let dir = location.strip_prefix("file://").unwrap_or(location);
        std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        let dir = std::fs::canonicalize(dir).map_err(|e| open_err(e.to_string()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| open_err(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            base: format!("file://{}", dir.display()),
        })
    }

    /// This store's base URI.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URI a key would have.
    pub fn uri_of(&self, key: &str) -> String {
        format!("{}/{}", self.base, key)
    }

    fn key_of<'a>(&self, uri: &'a str) -> Result<&'a str, BlobError> {
        uri.strip_prefix(self.base.as_str())
            .and_then(|k| k.strip_prefix('/'))
            .ok_or_else(|| BlobError::Foreign {
                uri: uri.to_owned(),
                base: self.base.clone(),
            })
    }

    /// Writes `data` under `key` (overwriting: keys derive from content, so it is the same data).
    pub async fn put(&self, key: &str, data: impl Into<Bytes>) -> Result<BlobRef, BlobError> {
        let data: Bytes = data.into();
        let blob = BlobRef {
            uri: self.uri_of(key),
            sha256: sha256_hex(&data),
            bytes: data.len() as u64,
        };
        self.store
            .put(&Path::from(key), PutPayload::from_bytes(data))
            .await
            .map_err(|source| BlobError::Io {
                uri: blob.uri.clone(),
                source,
            })?;
        Ok(blob)
    }

    /// Keys under `prefix` (at most `limit`, in the store's order), for indexes kept as blobs.
    pub async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, BlobError> {
        use futures::StreamExt;
        let mut keys = Vec::new();
        let mut listing = self.store.list(Some(&Path::from(prefix)));
        while let Some(item) = listing.next().await {
            let meta = item.map_err(|source| BlobError::Io {
                uri: self.uri_of(prefix),
                source,
            })?;
            keys.push(meta.location.to_string());
            if keys.len() >= limit {
                break;
            }
        }
        Ok(keys)
    }

    /// Reads a blob and checks its hash.
    pub async fn get(&self, blob: &BlobRef) -> Result<Bytes, BlobError> {
        let data = self.get_uri(&blob.uri).await?;
        let found = sha256_hex(&data);
        if found != blob.sha256 {
            return Err(BlobError::Corrupt {
                uri: blob.uri.clone(),
                expected: blob.sha256.clone(),
                found,
            });
        }
        Ok(data)
    }

    /// Reads a blob as UTF-8 text.
    pub async fn get_text(&self, blob: &BlobRef) -> Result<String, BlobError> {
        let data = self.get(blob).await?;
        Ok(String::from_utf8_lossy(&data).into_owned())
    }

    /// Reads whatever is at `uri`, unverified; `None` when nothing is there.
    pub async fn try_get_uri(&self, uri: &str) -> Result<Option<Bytes>, BlobError> {
        match self.get_uri(uri).await {
            Ok(b) => Ok(Some(b)),
            Err(BlobError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_uri(&self, uri: &str) -> Result<Bytes, BlobError> {
        let key = self.key_of(uri)?;
        let io = |source: object_store::Error| match source {
            object_store::Error::NotFound { .. } => BlobError::Missing {
                uri: uri.to_owned(),
            },
            source => BlobError::Io {
                uri: uri.to_owned(),
                source,
            },
        };
        let got = self.store.get(&Path::from(key)).await.map_err(io)?;
        got.bytes().await.map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_roundtrip_and_corruption_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().to_str().unwrap()).unwrap();
        let blob = store.put("a/b.txt", "hello").await.unwrap();
        assert!(blob.uri.starts_with("file://") && blob.uri.ends_with("/a/b.txt"));
        assert_eq!(store.get(&blob).await.unwrap(), Bytes::from("hello"));
        let mut wrong = blob.clone();
        wrong.sha256 = sha256_hex(b"other");
        assert!(matches!(
            store.get(&wrong).await,
            Err(BlobError::Corrupt { .. })
        ));
        let foreign = BlobRef {
            uri: "s3://elsewhere/x".into(),
            ..blob
        };
        assert!(matches!(
            store.get(&foreign).await,
            Err(BlobError::Foreign { .. })
        ));
        assert!(
            store
                .try_get_uri(&store.uri_of("nope"))
                .await
                .unwrap()
                .is_none()
        );
    }
}
