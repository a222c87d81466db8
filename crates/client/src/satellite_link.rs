//! Calls of the satellite side of the satellite exchange (`/api/v1/satellite…`, the satellite's
//! operator only).

use crate::{AdminClient, ClientError};
use smartlic_protocol::admin::{
    ImportSatelliteAnswer, LinkSatellite, SatelliteExchange, SatelliteLinkInfo, SatelliteRequestFile,
};

impl AdminClient {
    /// Links this manager to its parent with the parent's satellite token.
    pub async fn link_satellite(&self, body: &LinkSatellite) -> Result<SatelliteLinkInfo, ClientError> {
        self.post(&["satellite", "link"], body).await
    }

    /// This manager's link to its parent.
    pub async fn satellite_link(&self) -> Result<SatelliteLinkInfo, ClientError> {
        self.get(&["satellite"], &[]).await
    }

    /// The next request file for the parent (its sequence number is stored).
    pub async fn satellite_request(&self) -> Result<SatelliteRequestFile, ClientError> {
        self.post_empty(&["satellite", "request"]).await
    }

    /// Imports the parent's answer file.
    pub async fn import_satellite_answer(&self, answer: String) -> Result<SatelliteExchange, ClientError> {
        self.post(&["satellite", "import"], &ImportSatelliteAnswer { answer })
            .await
    }

    /// One exchange with the parent over HTTPS, made by the manager itself.
    pub async fn sync_satellite(&self) -> Result<SatelliteExchange, ClientError> {
        self.post_empty(&["satellite", "sync"]).await
    }
}
