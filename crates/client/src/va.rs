//! Calls that change a virtual account after it was made, move a product instance between
//! virtual accounts, and fetch the CSV reports of licences and instances.

use crate::{AdminClient, ClientError};
use reqwest::Method;
use smartlic_protocol::admin::{MoveInstance, MovedInstance, RenameVirtualAccount, VirtualAccountInfo};

impl AdminClient {
    /// Renames a virtual account.
    pub async fn rename_virtual_account(
        &self,
        account: &str,
        va: &str,
        name: &str,
    ) -> Result<VirtualAccountInfo, ClientError> {
        let body = RenameVirtualAccount { name: name.to_string() };
        self.call(
            Method::PATCH,
            &["accounts", account, "virtual-accounts", va],
            &[],
            Some(&body),
        )
        .await
    }

    /// Deletes a virtual account that holds nothing (refused, with the reason, otherwise).
    pub async fn delete_virtual_account(&self, account: &str, va: &str) -> Result<(), ClientError> {
        self.delete(&["accounts", account, "virtual-accounts", va]).await
    }

    /// Moves a product instance into the virtual account `to` of the same Smart Account.
    pub async fn move_instance(
        &self,
        account: &str,
        instance_id: &str,
        to: &str,
    ) -> Result<MovedInstance, ClientError> {
        let body = MoveInstance { to: to.to_string() };
        self.post(&["accounts", account, "instances", instance_id, "move"], &body)
            .await
    }

    /// A virtual account's licences as the manager's CSV (`…/licenses.csv`), unchanged.
    pub async fn licenses_csv(&self, account: &str, va: &str) -> Result<String, ClientError> {
        self.get_text(&["accounts", account, "virtual-accounts", va, "licenses.csv"], &[])
            .await
    }

    /// The product instances (of one virtual account, or all the key may read) as the
    /// manager's CSV (`…/instances.csv`), unchanged.
    pub async fn instances_csv(&self, account: &str, va: Option<&str>) -> Result<String, ClientError> {
        let query: Vec<(&str, &str)> = va.map(|v| vec![("va", v)]).unwrap_or_default();
        self.get_text(&["accounts", account, "instances.csv"], &query).await
    }
}
