//! The Blob service of a storage account: upload and delete block blobs (what ARO-RP's
//! oidcbuilder does with the OIDC issuer documents), with the credential, transport and retry
//! policy of the ARM clients and a token for Azure Storage.

use crate::arm::PIPELINE_AUTHORIZATION;
use crate::error::Error;
use azure_core::auth::TokenCredential;
use azure_core::{ClientOptions, Context, Method, Pipeline, Request, Url};
use std::sync::Arc;

/// Token scope of Azure Storage's data plane.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";
/// `x-ms-version` of the Blob service requests.
pub const BLOB_SERVICE_VERSION: &str = "2023-11-03";

/// Blob service requests.
#[derive(Clone, Debug)]
pub struct BlobClient {
    credential: Arc<dyn TokenCredential>,
    pipeline: Pipeline,
}

impl BlobClient {
    pub(crate) fn new(credential: Arc<dyn TokenCredential>, options: ClientOptions) -> Self {
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            Vec::new(),
            Vec::new(),
        );
        Self {
            credential,
            pipeline,
        }
    }

    async fn request(&self, url: &Url, method: Method) -> Result<Request, Error> {
        let token = self.credential.get_token(&[STORAGE_SCOPE]).await?;
        let mut request = Request::new(url.clone(), method);
        // Under a private name until the wire, as the ARM client's (see `arm::WireAuthorization`).
        request.insert_header(
            PIPELINE_AUTHORIZATION,
            format!("Bearer {}", token.token.secret()),
        );
        request.insert_header("x-ms-version", BLOB_SERVICE_VERSION);
        Ok(request)
    }

    /// Uploads `data` as the block blob at `url` (`https://{account}.blob.../{container}/{name}`),
    /// replacing any blob there.
    pub async fn put_block_blob(
        &self,
        url: &Url,
        content_type: &str,
        data: Vec<u8>,
    ) -> Result<(), Error> {
        let mut request = self.request(url, Method::Put).await?;
        request.insert_header("x-ms-blob-type", "BlockBlob");
        request.insert_header(azure_core::headers::CONTENT_TYPE, content_type.to_string());
        request.insert_header("x-ms-blob-content-type", content_type.to_string());
        request.set_body(data);
        self.pipeline.send(&Context::new(), &mut request).await?;
        Ok(())
    }

    /// Deletes the blob at `url`; `false` when there was none.
    pub async fn delete_blob(&self, url: &Url) -> Result<bool, Error> {
        let mut request = self.request(url, Method::Delete).await?;
        match self.pipeline.send(&Context::new(), &mut request).await {
            Ok(_) => Ok(true),
            Err(e) => match Error::from(e) {
                e if e.is_not_found() => Ok(false),
                e => Err(e),
            },
        }
    }
}
