//! One typed call per admin API endpoint, named for what it does.

use crate::{AdminClient, ClientError, EventFilter};
use smartlic_protocol::admin::{
    AccountInfo, AccountRequestInfo, AlertInfo, ApprovedAccountRequest, ConfirmReservation, CreateAccount,
    CreateReservation, CreateToken, CreateUser, CreateVirtualAccount, CreateWebhook, CreatedToken, CreatedUser,
    CreatedWebhook, DepositLicenses, EventInfo, InstanceInfo, IssueLegacyKey, IssuedLegacyKey, IssuedReservation,
    LicenseList, RejectAccountRequest, RemovedInstance, ReservationInfo, ReservationPolicy, ReturnReservation,
    RotatedKey, SetReservationPolicy, TokenInfo, TransferLicenses, TransferResult, UpdateReservation, UsageHistory,
    UserInfo, VirtualAccountInfo, WebhookInfo,
};

/// `?va=NAME` when a virtual account is given, else no query.
fn va_query(va: Option<&str>) -> Vec<(&str, &str)> {
    va.map(|v| vec![("va", v)]).unwrap_or_default()
}

impl AdminClient {
    /// The Smart Accounts the key can see.
    pub async fn accounts(&self) -> Result<Vec<AccountInfo>, ClientError> {
        self.get(&["accounts"], &[]).await
    }

    /// Creates a Smart Account (with its virtual account DEFAULT).
    pub async fn create_account(&self, body: &CreateAccount) -> Result<AccountInfo, ClientError> {
        self.post(&["accounts"], body).await
    }

    /// Sets which licence reservations an account may make (operator only).
    pub async fn set_reservation_policy(
        &self,
        account: &str,
        reservation: ReservationPolicy,
    ) -> Result<AccountInfo, ClientError> {
        self.put(
            &["accounts", account, "reservation"],
            &SetReservationPolicy { reservation },
        )
        .await
    }

    /// The Smart Account requests, newest first (only pending ones with `pending`).
    pub async fn account_requests(&self, pending: bool) -> Result<Vec<AccountRequestInfo>, ClientError> {
        let query: &[(&str, &str)] = if pending { &[("status", "pending")] } else { &[] };
        self.get(&["account-requests"], query).await
    }

    /// Approves a pending Smart Account request.
    pub async fn approve_account_request(&self, id: &str) -> Result<ApprovedAccountRequest, ClientError> {
        self.post(&["account-requests", id, "approve"], &()).await
    }

    /// Rejects a pending Smart Account request.
    pub async fn reject_account_request(
        &self,
        id: &str,
        body: &RejectAccountRequest,
    ) -> Result<AccountRequestInfo, ClientError> {
        self.post(&["account-requests", id, "reject"], body).await
    }

    /// Creates a virtual account.
    pub async fn create_virtual_account(
        &self,
        account: &str,
        body: &CreateVirtualAccount,
    ) -> Result<VirtualAccountInfo, ClientError> {
        self.post(&["accounts", account, "virtual-accounts"], body).await
    }

    /// The virtual accounts of a Smart Account.
    pub async fn virtual_accounts(&self, account: &str) -> Result<Vec<VirtualAccountInfo>, ClientError> {
        self.get(&["accounts", account, "virtual-accounts"], &[]).await
    }

    /// Deposits purchased licenses; answers the VA's licenses after it.
    pub async fn deposit(&self, account: &str, va: &str, body: &DepositLicenses) -> Result<LicenseList, ClientError> {
        self.post(&["accounts", account, "virtual-accounts", va, "licenses"], body)
            .await
    }

    /// Moves licenses between two virtual accounts.
    pub async fn transfer(&self, account: &str, body: &TransferLicenses) -> Result<TransferResult, ClientError> {
        self.post(&["accounts", account, "transfers"], body).await
    }

    /// The licenses of a virtual account, per SKU.
    pub async fn licenses(&self, account: &str, va: &str) -> Result<LicenseList, ClientError> {
        self.get(&["accounts", account, "virtual-accounts", va, "licenses"], &[])
            .await
    }

    /// Creates a registration token (its secret is in the answer only).
    pub async fn create_token(&self, account: &str, va: &str, body: &CreateToken) -> Result<CreatedToken, ClientError> {
        self.post(&["accounts", account, "virtual-accounts", va, "tokens"], body)
            .await
    }

    /// The tokens of a Smart Account (of one virtual account with `va`).
    pub async fn tokens(&self, account: &str, va: Option<&str>) -> Result<Vec<TokenInfo>, ClientError> {
        self.get(&["accounts", account, "tokens"], &va_query(va)).await
    }

    /// Revokes a token.
    pub async fn revoke_token(&self, account: &str, token_id: &str) -> Result<TokenInfo, ClientError> {
        self.post_empty(&["accounts", account, "tokens", token_id, "revoke"])
            .await
    }

    /// Every product instance of a Smart Account (of one virtual account with `va`), all pages.
    pub async fn instances(&self, account: &str, va: Option<&str>) -> Result<Vec<InstanceInfo>, ClientError> {
        self.get_all(&["accounts", account, "instances"], &va_query(va)).await
    }

    /// One product instance with its license usage.
    pub async fn instance(&self, account: &str, instance_id: &str) -> Result<InstanceInfo, ClientError> {
        self.get(&["accounts", account, "instances", instance_id], &[]).await
    }

    /// Removes a product instance; answers the licenses released.
    pub async fn remove_instance(&self, account: &str, instance_id: &str) -> Result<RemovedInstance, ClientError> {
        self.delete(&["accounts", account, "instances", instance_id]).await
    }

    /// Creates a user (their API key is in the answer only).
    pub async fn create_user(&self, account: &str, body: &CreateUser) -> Result<CreatedUser, ClientError> {
        self.post(&["accounts", account, "users"], body).await
    }

    /// The users of a Smart Account.
    pub async fn users(&self, account: &str) -> Result<Vec<UserInfo>, ClientError> {
        self.get(&["accounts", account, "users"], &[]).await
    }

    /// Disables a user (e-mail address or id).
    pub async fn disable_user(&self, account: &str, user: &str) -> Result<UserInfo, ClientError> {
        self.post(&["accounts", account, "users", user, "disable"], &()).await
    }

    /// Enables a disabled user again.
    pub async fn enable_user(&self, account: &str, user: &str) -> Result<UserInfo, ClientError> {
        self.post(&["accounts", account, "users", user, "enable"], &()).await
    }

    /// Removes a user.
    pub async fn remove_user(&self, account: &str, user: &str) -> Result<(), ClientError> {
        self.delete(&["accounts", account, "users", user]).await
    }

    /// Gives a user a new API key (the old one stops at once).
    pub async fn rotate_user_key(&self, account: &str, user: &str) -> Result<CreatedUser, ClientError> {
        self.post(&["accounts", account, "users", user, "rotate-key"], &())
            .await
    }

    /// Issues a legacy licence key for one chassis (operator only).
    pub async fn issue_legacy_key(&self, body: &IssueLegacyKey) -> Result<IssuedLegacyKey, ClientError> {
        self.post(&["legacy-keys"], body).await
    }

    /// Replaces the operator API key used by this client; the old key stops at once.
    pub async fn rotate_operator_key(&self) -> Result<RotatedKey, ClientError> {
        self.post(&["operator", "rotate-key"], &()).await
    }

    /// Reserves licences (or the universal licence) for the node whose request code the body
    /// carries; the answer holds the authorization code.
    pub async fn create_reservation(
        &self,
        account: &str,
        body: &CreateReservation,
    ) -> Result<IssuedReservation, ClientError> {
        self.post(&["accounts", account, "reservations"], body).await
    }

    /// The licence reservations of an account (of one virtual account if given).
    pub async fn reservations(&self, account: &str, va: Option<&str>) -> Result<Vec<ReservationInfo>, ClientError> {
        self.get(&["accounts", account, "reservations"], &va_query(va)).await
    }

    /// Changes a reservation's licences; the answer holds the next authorization code.
    pub async fn update_reservation(
        &self,
        account: &str,
        id: &str,
        body: &UpdateReservation,
    ) -> Result<IssuedReservation, ClientError> {
        self.put(&["accounts", account, "reservations", id], body).await
    }

    /// Hands in a node's return code: the reservation's licences are released.
    pub async fn return_reservation(&self, account: &str, return_code: &str) -> Result<ReservationInfo, ClientError> {
        let body = ReturnReservation {
            return_code: return_code.to_string(),
        };
        self.post(&["accounts", account, "reservations", "return"], &body).await
    }

    /// Hands in a node's confirmation code (it installed an updated authorization).
    pub async fn confirm_reservation(
        &self,
        account: &str,
        confirmation_code: &str,
    ) -> Result<ReservationInfo, ClientError> {
        let body = ConfirmReservation {
            confirmation_code: confirmation_code.to_string(),
        };
        self.post(&["accounts", account, "reservations", "confirm"], &body)
            .await
    }

    /// The current alerts of the account's virtual accounts the key may read, most severe first.
    pub async fn alerts(&self, account: &str) -> Result<Vec<AlertInfo>, ClientError> {
        self.get(&["accounts", account, "alerts"], &[]).await
    }

    /// The account's event log, newest first, narrowed by `filter`.
    pub async fn events(&self, account: &str, filter: &EventFilter) -> Result<Vec<EventInfo>, ClientError> {
        let query = filter.query();
        let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.get(&["accounts", account, "events"], &pairs).await
    }

    /// The same events as the manager's CSV export (RFC 4180, formula cells guarded), unchanged.
    pub async fn events_csv(&self, account: &str, filter: &EventFilter) -> Result<String, ClientError> {
        let query = filter.query();
        let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.get_text(&["accounts", account, "events.csv"], &pairs).await
    }

    /// A virtual account's daily licences in use per SKU over the last `days` days (the
    /// manager's default, 30, when not given).
    pub async fn usage(&self, account: &str, va: &str, days: Option<u32>) -> Result<UsageHistory, ClientError> {
        let days = days.map(|d| d.to_string());
        let query: Vec<(&str, &str)> = days.iter().map(|d| ("days", d.as_str())).collect();
        self.get(&["accounts", account, "virtual-accounts", va, "usage"], &query)
            .await
    }

    /// The account's alert webhooks (never their secrets).
    pub async fn webhooks(&self, account: &str) -> Result<Vec<WebhookInfo>, ClientError> {
        self.get(&["accounts", account, "webhooks"], &[]).await
    }

    /// Adds an alert webhook; its signing secret is in the answer only.
    pub async fn add_webhook(&self, account: &str, url: &str) -> Result<CreatedWebhook, ClientError> {
        let body = CreateWebhook { url: url.to_string() };
        self.post(&["accounts", account, "webhooks"], &body).await
    }

    /// Removes an alert webhook.
    pub async fn remove_webhook(&self, account: &str, webhook: &str) -> Result<(), ClientError> {
        self.delete(&["accounts", account, "webhooks", webhook]).await
    }
}
