//! Handlers of the admin API that change a virtual account after it was made (rename, delete),
//! move a product instance between virtual accounts, and the CSV reports of licences and
//! instances. Each parses, authenticates and calls [`crate::admin`].

use super::admin_routes::VaFilter;
use super::{ApiJson, ApiPath, ApiQuery, ClientAddr};
use crate::admin::{self, Caller};
use crate::api::ApiError;
use crate::auth::Principal;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use smartlic_protocol::admin::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this file (relative to `/api/v1`).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(rename_va, delete_va))
        .routes(routes!(move_instance))
        .routes(routes!(export_licenses))
        .routes(routes!(export_instances))
}

fn caller(principal: Principal, addr: ClientAddr) -> Caller {
    Caller {
        principal,
        source: addr.0,
    }
}

#[utoipa::path(patch, path = "/accounts/{account}/virtual-accounts/{va}", tag = "accounts",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = String, Path, description = "virtual account name or id")),
    request_body = RenameVirtualAccount,
    responses((status = 200, description = "renamed", body = VirtualAccountInfo),
              (status = 400, description = "an invalid name"),
              (status = 403, description = "the role may not rename virtual accounts"),
              (status = 404, description = "no such account or virtual account"),
              (status = 409, description = "the name is taken, or the virtual account is DEFAULT (it keeps its name)")),
    security(("api_key" = [])))]
async fn rename_va(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, va)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RenameVirtualAccount>,
) -> Result<Json<VirtualAccountInfo>, ApiError> {
    Ok(Json(admin::rename_va(&s, &caller(p, a), &account, &va, body).await?))
}

#[utoipa::path(delete, path = "/accounts/{account}/virtual-accounts/{va}", tag = "accounts",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = String, Path, description = "virtual account name or id")),
    responses((status = 204, description = "deleted, with its expired or revoked tokens, returned reservations and usage history"),
              (status = 403, description = "the role may not delete virtual accounts"),
              (status = 404, description = "no such account or virtual account"),
              (status = 409, description = "it still holds licences, product instances, reservations, usable tokens or users \
                 (the message says which), or it is DEFAULT")),
    security(("api_key" = [])))]
async fn delete_va(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, va)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin::delete_va(&s, &caller(p, a), &account, &va).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/accounts/{account}/instances/{instance}/move", tag = "instances",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("instance" = String, Path, description = "product instance id")),
    request_body = MoveInstance,
    responses((status = 200, description = "moved: its licences in use left the old virtual account's totals and joined \
                 the new one's; the node learns its compliance there at its next renewal", body = MovedInstance),
              (status = 400, description = "no virtual account named"),
              (status = 403, description = "the role may not move product instances out of or into these virtual accounts"),
              (status = 404, description = "no such instance or virtual account in this account"),
              (status = 409, description = "it is in that virtual account already, or was moved meanwhile")),
    security(("api_key" = [])))]
async fn move_instance(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, instance)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<MoveInstance>,
) -> Result<Json<MovedInstance>, ApiError> {
    Ok(Json(
        admin::move_instance(&s, &caller(p, a), &account, &instance, body).await?,
    ))
}

#[utoipa::path(get, path = "/accounts/{account}/virtual-accounts/{va}/licenses.csv", tag = "licenses",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = String, Path, description = "virtual account name or id")),
    responses((status = 200, description = "the licence list as CSV (RFC 4180): virtual_account, sku, description, kind, \
                 purchased, in_use, balance, status, end_dates (`YYYY-MM-DD=N;…`)", content_type = "text/csv", body = String),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn export_licenses(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, va)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let csv = admin::licenses_csv(&s, &caller(p, a), &account, &va).await?;
    Ok(crate::csv_export::response("smartlic-licenses.csv", csv))
}

#[utoipa::path(get, path = "/accounts/{account}/instances.csv", tag = "instances",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = Option<String>, Query, description = "only this virtual account (name or id)")),
    responses((status = 200, description = "every product instance the caller may read as CSV (RFC 4180), by hostname: \
                 id, udi, hostname, virtual_account, software_tag, registered_at, last_contact, id_expires_at, status",
               content_type = "text/csv", body = String),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn export_instances(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<VaFilter>,
) -> Result<Response, ApiError> {
    let csv = admin::instances_csv(&s, &caller(p, a), &account, q.va.as_deref()).await?;
    Ok(crate::csv_export::response("smartlic-instances.csv", csv))
}
