//! Handlers of the admin REST API: each parses, authenticates, and calls [`crate::admin`].

use super::{ApiJson, ApiPath, ApiQuery, BearerKey, ClientAddr};
use crate::admin::{self, Caller};
use crate::api::ApiError;
use crate::auth::Principal;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use smartlic_protocol::admin::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of the admin API (relative to `/api/v1`).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account))
        .routes(routes!(set_reservation_policy))
        .routes(routes!(list_vas, create_va))
        .routes(routes!(list_licenses, deposit_licenses))
        .routes(routes!(transfer_licenses))
        .routes(routes!(usage_history))
        .routes(routes!(list_alerts))
        .routes(routes!(list_webhooks, add_webhook))
        .routes(routes!(remove_webhook))
        .routes(routes!(list_tokens))
        .routes(routes!(create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_instances))
        .routes(routes!(get_instance, remove_instance))
        .routes(routes!(list_users, create_user))
        .routes(routes!(remove_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(rotate_user_key))
        .routes(routes!(rotate_operator_key))
        .routes(routes!(issue_legacy_key))
        .routes(routes!(list_events))
        .routes(routes!(export_events))
        .routes(routes!(list_account_requests, submit_account_request))
        .routes(routes!(approve_account_request))
        .routes(routes!(reject_account_request))
}

fn caller(principal: Principal, addr: ClientAddr) -> Caller {
    Caller {
        principal,
        source: addr.0,
    }
}

type Created<T> = Result<(StatusCode, Json<T>), ApiError>;
type Answer<T> = Result<Json<T>, ApiError>;

/// `?va=` filter of lists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VaFilter {
    /// Virtual account name or id.
    pub va: Option<String>,
}

#[utoipa::path(get, path = "/accounts", tag = "accounts",
    responses((status = 200, description = "Smart Accounts the caller can see", body = Vec<AccountInfo>),
              (status = 401, description = "no or wrong API key")),
    security(("api_key" = [])))]
async fn list_accounts(State(s): State<AppState>, p: Principal, a: ClientAddr) -> Answer<Vec<AccountInfo>> {
    Ok(Json(admin::list_accounts(&s, &caller(p, a)).await?))
}

#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = CreateAccount,
    responses((status = 201, description = "created, with its DEFAULT virtual account", body = AccountInfo),
              (status = 400, description = "invalid name or domain"),
              (status = 403, description = "only the operator creates accounts"),
              (status = 409, description = "the name is taken")),
    security(("api_key" = [])))]
async fn create_account(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiJson(body): ApiJson<CreateAccount>,
) -> Created<AccountInfo> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_account(&s, &caller(p, a), body).await?),
    ))
}

#[utoipa::path(put, path = "/accounts/{account}/reservation", tag = "accounts", request_body = SetReservationPolicy,
    params(("account" = String, Path, description = "Smart Account name or id")),
    responses((status = 200, description = "the account with its new reservation policy", body = AccountInfo),
              (status = 400, description = "not none, specific or universal"),
              (status = 403, description = "only the operator allows reservation"),
              (status = 404, description = "no such account")),
    security(("api_key" = [])))]
async fn set_reservation_policy(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<SetReservationPolicy>,
) -> Answer<AccountInfo> {
    Ok(Json(
        admin::set_reservation_policy(&s, &caller(p, a), &account, body).await?,
    ))
}

#[utoipa::path(get, path = "/accounts/{account}", tag = "accounts",
    params(("account" = String, Path, description = "Smart Account name or id")),
    responses((status = 200, description = "the account", body = AccountInfo),
              (status = 404, description = "no such account")),
    security(("api_key" = [])))]
async fn get_account(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
) -> Answer<AccountInfo> {
    Ok(Json(admin::get_account(&s, &caller(p, a), &account).await?))
}

#[utoipa::path(get, path = "/accounts/{account}/virtual-accounts", tag = "accounts",
    params(("account" = String, Path, description = "Smart Account name or id")),
    responses((status = 200, description = "virtual accounts the caller can see", body = Vec<VirtualAccountInfo>),
              (status = 404, description = "no such account")),
    security(("api_key" = [])))]
async fn list_vas(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
) -> Answer<Vec<VirtualAccountInfo>> {
    Ok(Json(admin::list_vas(&s, &caller(p, a), &account).await?))
}

#[utoipa::path(post, path = "/accounts/{account}/virtual-accounts", tag = "accounts",
    params(("account" = String, Path, description = "Smart Account name or id")),
    request_body = CreateVirtualAccount,
    responses((status = 201, description = "created", body = VirtualAccountInfo),
              (status = 404, description = "no such account"),
              (status = 409, description = "the name is taken")),
    security(("api_key" = [])))]
async fn create_va(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<CreateVirtualAccount>,
) -> Created<VirtualAccountInfo> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_va(&s, &caller(p, a), &account, body).await?),
    ))
}

#[utoipa::path(get, path = "/accounts/{account}/virtual-accounts/{va}/licenses", tag = "licenses",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = String, Path, description = "virtual account name or id")),
    responses((status = 200, description = "per SKU: purchased, in use, balance, status", body = LicenseList),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn list_licenses(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, va)): ApiPath<(String, String)>,
) -> Answer<LicenseList> {
    Ok(Json(admin::license_list(&s, &caller(p, a), &account, &va).await?))
}

#[utoipa::path(get, path = "/accounts/{account}/alerts", tag = "licenses",
    params(("account" = String, Path, description = "Smart Account name or id")),
    responses((status = 200, description = "current alerts of the virtual accounts the caller may read, most severe first", body = Vec<AlertInfo>),
              (status = 404, description = "no such account")),
    security(("api_key" = [])))]
async fn list_alerts(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
) -> Answer<Vec<AlertInfo>> {
    Ok(Json(admin::list_alerts(&s, &caller(p, a), &account).await?))
}

/// `?days=` of the usage history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct Days {
    /// Days back from today, today included (1-365, default 30).
    pub days: Option<u32>,
}

#[utoipa::path(get, path = "/accounts/{account}/virtual-accounts/{va}/usage", tag = "licenses",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = String, Path, description = "virtual account name or id"), Days),
    responses((status = 200, description = "daily licences in use per SKU, with what is purchased now", body = UsageHistory),
              (status = 400, description = "days out of range"),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn usage_history(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, va)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<Days>,
) -> Answer<UsageHistory> {
    Ok(Json(
        admin::usage_history(&s, &caller(p, a), &account, &va, q.days).await?,
    ))
}

#[utoipa::path(post, path = "/accounts/{account}/virtual-accounts/{va}/licenses", tag = "licenses",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = String, Path, description = "virtual account name or id")),
    request_body = DepositLicenses,
    responses((status = 201, description = "deposited; the licence list afterwards", body = LicenseList),
              (status = 400, description = "unknown SKU, bad quantity or date"),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn deposit_licenses(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, va)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<DepositLicenses>,
) -> Created<LicenseList> {
    Ok((
        StatusCode::CREATED,
        Json(admin::deposit(&s, &caller(p, a), &account, &va, body).await?),
    ))
}

#[utoipa::path(post, path = "/accounts/{account}/transfers", tag = "licenses",
    params(("account" = String, Path, description = "Smart Account name or id")),
    request_body = TransferLicenses,
    responses((status = 201, description = "moved", body = TransferResult),
              (status = 409, description = "the source would go below zero available"),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn transfer_licenses(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<TransferLicenses>,
) -> Created<TransferResult> {
    Ok((
        StatusCode::CREATED,
        Json(admin::transfer(&s, &caller(p, a), &account, body).await?),
    ))
}

#[utoipa::path(get, path = "/accounts/{account}/tokens", tag = "tokens",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = Option<String>, Query, description = "only this virtual account (name or id)")),
    responses((status = 200, description = "tokens, never with their secret", body = Vec<TokenInfo>),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn list_tokens(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<VaFilter>,
) -> Answer<Vec<TokenInfo>> {
    Ok(Json(
        admin::list_tokens(&s, &caller(p, a), &account, q.va.as_deref()).await?,
    ))
}

#[utoipa::path(post, path = "/accounts/{account}/virtual-accounts/{va}/tokens", tag = "tokens",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = String, Path, description = "virtual account name or id")),
    request_body = CreateToken,
    responses((status = 201, description = "created; the only time the secret is shown", body = CreatedToken),
              (status = 400, description = "invalid expiry or max uses"),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn create_token(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, va)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<CreateToken>,
) -> Created<CreatedToken> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_token(&s, &caller(p, a), &account, &va, body).await?),
    ))
}

#[utoipa::path(post, path = "/accounts/{account}/tokens/{token}/revoke", tag = "tokens",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("token" = String, Path, description = "token id")),
    responses((status = 200, description = "revoked (at once)", body = TokenInfo),
              (status = 404, description = "no such token")),
    security(("api_key" = [])))]
async fn revoke_token(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, token)): ApiPath<(String, String)>,
) -> Answer<TokenInfo> {
    Ok(Json(admin::revoke_token(&s, &caller(p, a), &account, &token).await?))
}

/// `?va=&limit=&after=` of the instance list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InstancePageQuery {
    /// Virtual account name or id.
    pub va: Option<String>,
    /// Most instances in the page.
    pub limit: Option<u32>,
    /// The cursor of the page before (from its `Link: <…>; rel="next"`).
    pub after: Option<String>,
}

#[utoipa::path(get, path = "/accounts/{account}/instances", tag = "instances",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = Option<String>, Query, description = "only this virtual account (name or id)"),
           ("limit" = Option<u32>, Query, description = "most instances in the page: 1 to 10,000, default 1,000"),
           ("after" = Option<String>, Query, description = "the cursor of the page before")),
    responses((status = 200, description = "one page of product instances, by hostname then id; \
                 unless it is the last, a `Link` header names the next (`rel=\"next\"`)",
               body = Vec<InstanceInfo>),
              (status = 400, description = "a limit out of range or a cursor not given out here"),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn list_instances(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<InstancePageQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let page = admin::list_instances(
        &s,
        &caller(p, a),
        &account,
        q.va.as_deref(),
        admin::PageRequest {
            limit: q.limit,
            after: q.after.as_deref(),
        },
    )
    .await?;
    let mut resp = Json(page.instances).into_response();
    if let Some(next) = page.next {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(va) = &q.va {
            params.push(("va", va.clone()));
        }
        if let Some(limit) = q.limit {
            params.push(("limit", limit.to_string()));
        }
        params.push(("after", next));
        let query = reqwest::Url::parse_with_params("http://query.invalid/", &params)
            .map_err(|e| ApiError::Internal(format!("next page link: {e}")))?;
        // A reference of just `?query` keeps the request's path (RFC 3986, section 5.2.2).
        let link = format!("<?{}>; rel=\"next\"", query.query().unwrap_or_default());
        let value =
            axum::http::HeaderValue::from_str(&link).map_err(|e| ApiError::Internal(format!("next page link: {e}")))?;
        resp.headers_mut().insert(axum::http::header::LINK, value);
    }
    Ok(resp)
}

#[utoipa::path(get, path = "/accounts/{account}/instances/{instance}", tag = "instances",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("instance" = String, Path, description = "product instance id")),
    responses((status = 200, description = "the instance with its usage", body = InstanceInfo),
              (status = 404, description = "no such instance")),
    security(("api_key" = [])))]
async fn get_instance(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, instance)): ApiPath<(String, String)>,
) -> Answer<InstanceInfo> {
    Ok(Json(admin::get_instance(&s, &caller(p, a), &account, &instance).await?))
}

#[utoipa::path(delete, path = "/accounts/{account}/instances/{instance}", tag = "instances",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("instance" = String, Path, description = "product instance id")),
    responses((status = 200, description = "removed; its licences are released", body = RemovedInstance),
              (status = 404, description = "no such instance")),
    security(("api_key" = [])))]
async fn remove_instance(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, instance)): ApiPath<(String, String)>,
) -> Answer<RemovedInstance> {
    Ok(Json(
        admin::remove_instance(&s, &caller(p, a), &account, &instance).await?,
    ))
}

#[utoipa::path(get, path = "/accounts/{account}/webhooks", tag = "alerts",
    params(("account" = String, Path, description = "Smart Account name or id")),
    responses((status = 200, description = "the account's alert webhooks (no secrets)", body = Vec<WebhookInfo>),
              (status = 403, description = "only a Smart Account administrator manages webhooks")),
    security(("api_key" = [])))]
async fn list_webhooks(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
) -> Answer<Vec<WebhookInfo>> {
    Ok(Json(crate::webhooks::list(&s, &caller(p, a), &account).await?))
}

#[utoipa::path(post, path = "/accounts/{account}/webhooks", tag = "alerts",
    params(("account" = String, Path, description = "Smart Account name or id")),
    request_body = CreateWebhook,
    responses((status = 201, description = "added; the signing secret is shown this once", body = CreatedWebhook),
              (status = 400, description = "not an https URL (plain http only to loopback), a user name or password in the URL, or an address webhooks may not reach (link-local and metadata always; loopback and private ranges unless the operator allows them with --webhook-allow)"),
              (status = 403, description = "only a Smart Account administrator manages webhooks"),
              (status = 409, description = "the account already has the most webhooks it may have (10)")),
    security(("api_key" = [])))]
async fn add_webhook(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Created<CreatedWebhook> {
    Ok((
        StatusCode::CREATED,
        Json(crate::webhooks::add(&s, &caller(p, a), &account, body).await?),
    ))
}

#[utoipa::path(delete, path = "/accounts/{account}/webhooks/{webhook}", tag = "alerts",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("webhook" = String, Path, description = "webhook id")),
    responses((status = 204, description = "removed"),
              (status = 404, description = "no such webhook")),
    security(("api_key" = [])))]
async fn remove_webhook(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, webhook)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    crate::webhooks::remove(&s, &caller(p, a), &account, &webhook).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/accounts/{account}/users", tag = "users",
    params(("account" = String, Path, description = "Smart Account name or id")),
    responses((status = 200, description = "users", body = Vec<UserInfo>),
              (status = 403, description = "the role may not list users")),
    security(("api_key" = [])))]
async fn list_users(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
) -> Answer<Vec<UserInfo>> {
    Ok(Json(admin::list_users(&s, &caller(p, a), &account).await?))
}

#[utoipa::path(post, path = "/accounts/{account}/users", tag = "users",
    params(("account" = String, Path, description = "Smart Account name or id")),
    request_body = CreateUser,
    responses((status = 201, description = "created; the only time the API key is shown", body = CreatedUser),
              (status = 400, description = "invalid e-mail, role/VA combination or password"),
              (status = 409, description = "the e-mail is taken")),
    security(("api_key" = [])))]
async fn create_user(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Created<CreatedUser> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_user(&s, &caller(p, a), &account, body).await?),
    ))
}

#[utoipa::path(delete, path = "/accounts/{account}/users/{user}", tag = "users",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("user" = String, Path, description = "user id or e-mail")),
    responses((status = 204, description = "removed; their API key and portal sessions stopped"),
              (status = 403, description = "only an SA administrator manages users"),
              (status = 409, description = "a user cannot remove themselves")),
    security(("api_key" = [])))]
async fn remove_user(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, user)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin::change_user(&s, &caller(p, a), &account, &user, crate::store::UserChange::Remove).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/accounts/{account}/users/{user}/disable", tag = "users",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("user" = String, Path, description = "user id or e-mail")),
    responses((status = 200, description = "disabled; their API key and portal sessions stopped at once", body = UserInfo),
              (status = 403, description = "only an SA administrator manages users"),
              (status = 409, description = "a user cannot disable themselves")),
    security(("api_key" = [])))]
async fn disable_user(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, user)): ApiPath<(String, String)>,
) -> Answer<UserInfo> {
    user_answer(admin::change_user(&s, &caller(p, a), &account, &user, crate::store::UserChange::Disable).await?)
}

#[utoipa::path(post, path = "/accounts/{account}/users/{user}/enable", tag = "users",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("user" = String, Path, description = "user id or e-mail")),
    responses((status = 200, description = "enabled", body = UserInfo),
              (status = 403, description = "only an SA administrator manages users")),
    security(("api_key" = [])))]
async fn enable_user(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, user)): ApiPath<(String, String)>,
) -> Answer<UserInfo> {
    user_answer(admin::change_user(&s, &caller(p, a), &account, &user, crate::store::UserChange::Enable).await?)
}

fn user_answer(user: Option<UserInfo>) -> Answer<UserInfo> {
    user.map(Json)
        .ok_or_else(|| ApiError::NotFound("the user was removed meanwhile".into()))
}

#[utoipa::path(post, path = "/accounts/{account}/users/{user}/rotate-key", tag = "users",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("user" = String, Path, description = "user id or e-mail")),
    responses((status = 200, description = "the new API key (the only time it is shown); the old one stopped", body = CreatedUser),
              (status = 403, description = "only an SA administrator rotates another user's key")),
    security(("api_key" = [])))]
async fn rotate_user_key(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, user)): ApiPath<(String, String)>,
) -> Answer<CreatedUser> {
    Ok(Json(admin::rotate_user_key(&s, &caller(p, a), &account, &user).await?))
}

#[utoipa::path(post, path = "/operator/rotate-key", tag = "accounts",
    responses((status = 200, description = "the new operator key (the only time it is shown); the key used for this request stopped", body = RotatedKey),
              (status = 403, description = "operator only")),
    security(("api_key" = [])))]
async fn rotate_operator_key(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    BearerKey(key): BearerKey,
) -> Answer<RotatedKey> {
    Ok(Json(admin::rotate_operator_key(&s, &caller(p, a), &key).await?))
}

#[utoipa::path(post, path = "/legacy-keys", tag = "accounts",
    request_body = IssueLegacyKey,
    responses((status = 201, description = "the signed licence key", body = IssuedLegacyKey),
              (status = 400, description = "unknown platform, service or feature, or a bad date"),
              (status = 403, description = "operator only")),
    security(("api_key" = [])))]
async fn issue_legacy_key(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiJson(body): ApiJson<IssueLegacyKey>,
) -> Created<IssuedLegacyKey> {
    Ok((
        StatusCode::CREATED,
        Json(admin::issue_legacy_key(&s, &caller(p, a), body).await?),
    ))
}

/// `?status=` of the account request list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RequestStatus {
    /// `pending`, `approved` or `rejected` (default: all).
    pub status: Option<String>,
}

#[utoipa::path(post, path = "/account-requests", tag = "accounts",
    request_body = SubmitAccountRequest,
    responses((status = 201, description = "stored, PENDING until the operator decides (no API key needed)", body = AccountRequestInfo),
              (status = 400, description = "an invalid field"),
              (status = 429, description = "too many pending requests, or too many from this address today"),
              (status = 503, description = "busy checking passwords: retry")))]
async fn submit_account_request(
    State(s): State<AppState>,
    a: ClientAddr,
    ApiJson(body): ApiJson<SubmitAccountRequest>,
) -> Created<AccountRequestInfo> {
    let checked = crate::account_requests::check(&body).map_err(|e| crate::account_requests::bad_request(&e))?;
    Ok((
        StatusCode::CREATED,
        Json(crate::account_requests::submit(&s, a.0.as_deref(), checked).await?),
    ))
}

#[utoipa::path(get, path = "/account-requests", tag = "accounts",
    params(RequestStatus),
    responses((status = 200, description = "Smart Account requests, newest first", body = Vec<AccountRequestInfo>),
              (status = 400, description = "unknown status"),
              (status = 403, description = "operator only")),
    security(("api_key" = [])))]
async fn list_account_requests(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiQuery(q): ApiQuery<RequestStatus>,
) -> Answer<Vec<AccountRequestInfo>> {
    Ok(Json(
        crate::account_requests::list(&s, &caller(p, a), q.status.as_deref()).await?,
    ))
}

#[utoipa::path(post, path = "/account-requests/{id}/approve", tag = "accounts",
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, description = "approved: the account, its SA administrator and their API key (the only time it is shown)", body = ApprovedAccountRequest),
              (status = 403, description = "operator only"),
              (status = 404, description = "no such request"),
              (status = 409, description = "already decided, or the account name or the e-mail is taken (nothing changed)")),
    security(("api_key" = [])))]
async fn approve_account_request(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(id): ApiPath<String>,
) -> Answer<ApprovedAccountRequest> {
    Ok(Json(crate::account_requests::approve(&s, &caller(p, a), &id).await?))
}

#[utoipa::path(post, path = "/account-requests/{id}/reject", tag = "accounts",
    params(("id" = String, Path, description = "request id")),
    request_body = RejectAccountRequest,
    responses((status = 200, description = "rejected", body = AccountRequestInfo),
              (status = 400, description = "no reason"),
              (status = 403, description = "operator only"),
              (status = 404, description = "no such request"),
              (status = 409, description = "already decided")),
    security(("api_key" = [])))]
async fn reject_account_request(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RejectAccountRequest>,
) -> Answer<AccountRequestInfo> {
    Ok(Json(
        crate::account_requests::reject(&s, &caller(p, a), &id, &body.reason).await?,
    ))
}

#[utoipa::path(get, path = "/accounts/{account}/events", tag = "users",
    params(("account" = String, Path, description = "Smart Account name or id"), admin::EventFilter),
    responses((status = 200, description = "the event log, newest first", body = Vec<EventInfo>),
              (status = 400, description = "a malformed filter"),
              (status = 403, description = "the role may not read the event log")),
    security(("api_key" = [])))]
async fn list_events(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<admin::EventFilter>,
) -> Answer<Vec<EventInfo>> {
    Ok(Json(admin::list_events(&s, &caller(p, a), &account, &q).await?))
}

#[utoipa::path(get, path = "/accounts/{account}/events.csv", tag = "users",
    params(("account" = String, Path, description = "Smart Account name or id"), admin::EventFilter),
    responses((status = 200, description = "the event log as CSV (RFC 4180), newest first", content_type = "text/csv", body = String),
              (status = 400, description = "a malformed filter"),
              (status = 403, description = "the role may not read the event log")),
    security(("api_key" = [])))]
async fn export_events(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<admin::EventFilter>,
) -> Result<axum::response::Response, ApiError> {
    let events = admin::list_events(&s, &caller(p, a), &account, &q).await?;
    Ok(crate::csv_export::response(
        "smartlic-events.csv",
        admin::events_csv(&events)?,
    ))
}
