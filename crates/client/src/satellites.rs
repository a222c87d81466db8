//! Calls of the satellite API, the parent's side: create and list an account's satellites, and
//! answer a satellite's request file (docs/satellite.md).

use crate::{AdminClient, ClientError};
use reqwest::Method;
use smartlic_protocol::admin::{CreateSatellite, CreatedSatellite, SatelliteInfo};

impl AdminClient {
    /// Creates a satellite of a virtual account; the answer holds its token (shown only here).
    pub async fn create_satellite(
        &self,
        account: &str,
        body: &CreateSatellite,
    ) -> Result<CreatedSatellite, ClientError> {
        self.post(&["accounts", account, "satellites"], body).await
    }

    /// An account's satellites, by name.
    pub async fn satellites(&self, account: &str) -> Result<Vec<SatelliteInfo>, ClientError> {
        self.get(&["accounts", account, "satellites"], &[]).await
    }

    /// Answers a satellite's request file (its JSON, as read from the file): the answer file's
    /// text, for `satellite import` on the satellite.
    pub async fn answer_satellite_request(&self, request: &serde_json::Value) -> Result<String, ClientError> {
        let url = self.url(&["satellites", "answer"], &[])?;
        let (bytes, _, _) = self.send_status(Method::POST, url, Some(request)).await?;
        String::from_utf8(bytes).map_err(|_| ClientError::NotText)
    }
}
