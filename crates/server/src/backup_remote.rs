//! Backups kept in an S3-compatible object store (`--backup-url s3://bucket/prefix`).
//!
//! A backup is still taken as a local checkpoint (in `BACKUP_DIR/.staging/<name>`), then
//! uploaded file by file under `<prefix>/<name>/`, `manifest.json` last: a backup whose
//! manifest is listed is whole. The local copy is then removed. A restore or VERIFY
//! downloads the backup into the staging dir and checks it there exactly as a local
//! backup (sizes and CRC-32s against the manifest) before anything changes. Credentials,
//! region and endpoint come from the usual `AWS_*` environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP` for a local
//! S3-compatible server).

use consensus::backup::Manifest;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Where the log archive's segments go in the store (a name no backup can have).
const ARCHIVE: &str = ".log-archive";
/// Files above this are uploaded in parts.
const MULTIPART_OVER: u64 = 32 << 20;
const PART: usize = 16 << 20;

pub struct Remote {
    store: Arc<dyn ObjectStore>,
    /// Key prefix inside the bucket (no leading or trailing `/`), maybe empty.
    prefix: String,
    url: String,
}

fn err(m: impl std::fmt::Display) -> String {
    format!("ERR {m}")
}

impl Remote {
    /// Connects to `s3://bucket[/prefix]` with the environment's credentials.
    pub fn open(url: &str) -> Result<Remote, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("--backup-url {url}: only s3://bucket/prefix is supported"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("--backup-url {url}: no bucket"));
        }
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| format!("--backup-url {url}: {e}"))?;
        Ok(Remote {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            url: url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn key(&self, rel: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(rel)
        } else {
            ObjPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// Whether a backup `name` exists (its manifest is there).
    pub async fn exists(&self, name: &str) -> Result<bool, String> {
        match self
            .store
            .head(&self.key(&format!("{name}/manifest.json")))
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(err(format!("{}: {e}", self.url))),
        }
    }

    /// Uploads the local backup `dir` (named `name`): every file, the manifest last.
    pub async fn upload(&self, dir: &Path, name: &str, m: &Manifest) -> Result<(), String> {
        for f in &m.files {
            let local = dir.join(&f.path);
            let key = self.key(&format!("{name}/{}", f.path));
            self.put_file(&local, &key, f.size).await?;
        }
        let manifest = tokio::fs::read(dir.join("manifest.json"))
            .await
            .map_err(|e| err(format!("backup '{name}': {e}")))?;
        self.store
            .put(
                &self.key(&format!("{name}/manifest.json")),
                PutPayload::from(manifest),
            )
            .await
            .map_err(|e| err(format!("uploading backup '{name}' to {}: {e}", self.url)))?;
        Ok(())
    }

    async fn put_file(&self, local: &Path, key: &ObjPath, size: u64) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| {
            err(format!(
                "uploading {} to {}: {e}",
                local.display(),
                self.url
            ))
        };
        if size <= MULTIPART_OVER {
            let bytes = tokio::fs::read(local).await.map_err(|e| fail(&e))?;
            self.store
                .put(key, PutPayload::from(bytes))
                .await
                .map_err(|e| fail(&e))?;
            return Ok(());
        }
        let upload = self.store.put_multipart(key).await.map_err(|e| fail(&e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut f = tokio::fs::File::open(local).await.map_err(|e| fail(&e))?;
        let mut buf = vec![0u8; PART];
        loop {
            use tokio::io::AsyncReadExt;
            let n = f.read(&mut buf).await.map_err(|e| fail(&e))?;
            if n == 0 {
                break;
            }
            w.wait_for_capacity(4).await.map_err(|e| fail(&e))?;
            w.write(&buf[..n]);
        }
        w.finish().await.map_err(|e| fail(&e))?;
        Ok(())
    }

    /// A backup's manifest.
    pub async fn manifest(&self, name: &str) -> Result<Manifest, String> {
        let key = self.key(&format!("{name}/manifest.json"));
        let got = match self.store.get(&key).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(err(format!("no backup named '{name}' in {}", self.url)))
            }
            Err(e) => return Err(err(format!("{}: {e}", self.url))),
        };
        let raw = got
            .bytes()
            .await
            .map_err(|e| err(format!("{}: {e}", self.url)))?;
        serde_json::from_slice(&raw).map_err(|e| {
            err(format!(
                "backup '{name}': {}/{name}/manifest.json is not a valid manifest: {e}",
                self.url
            ))
        })
    }

    /// Every backup in the store, oldest first (entries without a readable manifest as
    /// errors).
    pub async fn list(&self) -> Result<Vec<Result<Manifest, String>>, String> {
        let base = (!self.prefix.is_empty()).then(|| ObjPath::from(self.prefix.as_str()));
        let listed = self
            .store
            .list_with_delimiter(base.as_ref())
            .await
            .map_err(|e| err(format!("{}: {e}", self.url)))?;
        let mut out = Vec::new();
        for p in listed.common_prefixes {
            let Some(name) = p.filename() else { continue };
            if name.starts_with('.') {
                continue;
            }
            out.push(self.manifest(name).await);
        }
        out.sort_by_key(|m| m.as_ref().map_or(u64::MAX, |m| m.created_unix_ms));
        Ok(out)
    }

    /// Downloads backup `name` into `dest/<name>` (replacing anything there): every
    /// object under its prefix, so files not in the manifest are seen by the check.
    pub async fn download(&self, name: &str, dest: &Path) -> Result<PathBuf, String> {
        self.manifest(name).await?;
        let dir = dest.join(name);
        let _ = tokio::fs::remove_dir_all(&dir).await;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| err(format!("{}: {e}", dir.display())))?;
        let prefix = self.key(name);
        let objects: Vec<_> = self.store.list(Some(&prefix)).collect().await;
        for o in objects {
            let o = o.map_err(|e| err(format!("{}: {e}", self.url)))?;
            let rel: Vec<String> = o
                .location
                .prefix_match(&prefix)
                .map(|parts| parts.map(|p| p.as_ref().to_string()).collect())
                .unwrap_or_default();
            if rel.is_empty() || rel.iter().any(|p| p == ".." || p.is_empty()) {
                continue;
            }
            let local = rel.iter().fold(dir.clone(), |d, p| d.join(p));
            if let Some(parent) = local.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| err(format!("{}: {e}", parent.display())))?;
            }
            let fail = |e: &dyn std::fmt::Display| {
                err(format!("downloading {} from {}: {e}", o.location, self.url))
            };
            let got = self.store.get(&o.location).await.map_err(|e| fail(&e))?;
            let mut stream = got.into_stream();
            let mut f = tokio::fs::File::create(&local)
                .await
                .map_err(|e| fail(&e))?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| fail(&e))?;
                f.write_all(&chunk).await.map_err(|e| fail(&e))?;
            }
            f.sync_all().await.map_err(|e| fail(&e))?;
        }
        Ok(dir)
    }

    /// Deletes every object of backup `name`, the manifest first (so it stops being
    /// listed before its files go).
    pub async fn delete(&self, name: &str) -> Result<(), String> {
        if !self.exists(name).await? {
            return Err(err(format!("no backup named '{name}' in {}", self.url)));
        }
        let fail = |e: &dyn std::fmt::Display| {
            err(format!("deleting backup '{name}' in {}: {e}", self.url))
        };
        self.store
            .delete(&self.key(&format!("{name}/manifest.json")))
            .await
            .map_err(|e| fail(&e))?;
        let prefix = self.key(name);
        let objects: Vec<_> = self.store.list(Some(&prefix)).collect().await;
        for o in objects {
            let o = o.map_err(|e| fail(&e))?;
            self.store.delete(&o.location).await.map_err(|e| fail(&e))?;
        }
        Ok(())
    }
    // ---- the log archive, shipped beside the backups (`<prefix>/.log-archive/`) -------

    /// Names of the archive segments in the store.
    pub async fn archive_segments(&self) -> Result<Vec<String>, String> {
        let prefix = self.key(ARCHIVE);
        let objects: Vec<_> = self.store.list(Some(&prefix)).collect().await;
        let mut out = Vec::new();
        for o in objects {
            let o = o.map_err(|e| err(format!("{}: {e}", self.url)))?;
            if let Some(name) = o.location.filename() {
                if name.ends_with(".seg") {
                    out.push(name.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Uploads one archive segment file.
    pub async fn put_segment(&self, local: &Path) -> Result<(), String> {
        let name = local
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| err(format!("bad segment path {}", local.display())))?;
        let size = tokio::fs::metadata(local)
            .await
            .map_err(|e| err(format!("{}: {e}", local.display())))?
            .len();
        self.put_file(local, &self.key(&format!("{ARCHIVE}/{name}")), size)
            .await
    }

    /// Downloads archive segment `name` into `dir` (written to a temporary name, then
    /// renamed, so a segment file that exists is whole).
    pub async fn get_segment(&self, name: &str, dir: &Path) -> Result<(), String> {
        let key = self.key(&format!("{ARCHIVE}/{name}"));
        let fail =
            |e: &dyn std::fmt::Display| err(format!("downloading {key} from {}: {e}", self.url));
        let raw = self
            .store
            .get(&key)
            .await
            .map_err(|e| fail(&e))?
            .bytes()
            .await
            .map_err(|e| fail(&e))?;
        let tmp = dir.join(format!(".{name}.download"));
        tokio::fs::write(&tmp, &raw).await.map_err(|e| fail(&e))?;
        tokio::fs::rename(&tmp, dir.join(name))
            .await
            .map_err(|e| fail(&e))
    }

    /// Deletes archive segment `name` from the store.
    pub async fn delete_segment(&self, name: &str) -> Result<(), String> {
        self.store
            .delete(&self.key(&format!("{ARCHIVE}/{name}")))
            .await
            .map_err(|e| err(format!("{}: {e}", self.url)))
    }
}
