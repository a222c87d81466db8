//! Handlers of the licence reservation API (`/accounts/{account}/reservations…`): each parses,
//! authenticates, and calls [`crate::admin`].

use super::admin_routes::VaFilter;
use super::{ApiJson, ApiPath, ApiQuery, ClientAddr};
use crate::admin::{self, Caller};
use crate::api::ApiError;
use crate::auth::Principal;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use smartlic_protocol::admin::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of the reservation API (relative to `/api/v1`).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reservations, create_reservation))
        .routes(routes!(update_reservation))
        .routes(routes!(return_reservation))
        .routes(routes!(confirm_reservation))
}

fn caller(principal: Principal, addr: ClientAddr) -> Caller {
    Caller {
        principal,
        source: addr.0,
    }
}

#[utoipa::path(get, path = "/accounts/{account}/reservations", tag = "reservations",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("va" = Option<String>, Query, description = "only this virtual account (name or id)")),
    responses((status = 200, description = "the reservations, newest first", body = Vec<ReservationInfo>),
              (status = 403, description = "the role may not manage reservations"),
              (status = 404, description = "no such account or virtual account")),
    security(("api_key" = [])))]
async fn list_reservations(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<VaFilter>,
) -> Result<Json<Vec<ReservationInfo>>, ApiError> {
    Ok(Json(
        admin::list_reservations(&s, &caller(p, a), &account, q.va.as_deref()).await?,
    ))
}

#[utoipa::path(post, path = "/accounts/{account}/reservations", tag = "reservations",
    params(("account" = String, Path, description = "Smart Account name or id")),
    request_body = CreateReservation,
    responses((status = 201, description = "reserved; the authorization code to install on the node", body = IssuedReservation),
              (status = 400, description = "a mistyped or forged request code, an unknown SKU, a count of 0"),
              (status = 403, description = "the role may not manage reservations, or the account does not allow this kind"),
              (status = 404, description = "no such account or virtual account"),
              (status = 409, description = "not enough licences, the request was answered already, or the UDI holds a reservation")),
    security(("api_key" = [])))]
async fn create_reservation(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<CreateReservation>,
) -> Result<(StatusCode, Json<IssuedReservation>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_reservation(&s, &caller(p, a), &account, body).await?),
    ))
}

#[utoipa::path(put, path = "/accounts/{account}/reservations/{id}", tag = "reservations",
    params(("account" = String, Path, description = "Smart Account name or id"),
           ("id" = String, Path, description = "reservation id")),
    request_body = UpdateReservation,
    responses((status = 200, description = "updated; the next authorization code", body = IssuedReservation),
              (status = 400, description = "an unknown SKU or a count of 0"),
              (status = 403, description = "the role may not manage reservations, or the account does not allow this kind"),
              (status = 404, description = "no such reservation"),
              (status = 409, description = "not enough licences, or the reservation was returned")),
    security(("api_key" = [])))]
async fn update_reservation(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath((account, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<UpdateReservation>,
) -> Result<Json<IssuedReservation>, ApiError> {
    Ok(Json(
        admin::update_reservation(&s, &caller(p, a), &account, &id, body).await?,
    ))
}

#[utoipa::path(post, path = "/accounts/{account}/reservations/return", tag = "reservations",
    params(("account" = String, Path, description = "Smart Account name or id")),
    request_body = ReturnReservation,
    responses((status = 200, description = "returned; its licences are released", body = ReservationInfo),
              (status = 400, description = "a mistyped code, or one not signed by the reservation's node key"),
              (status = 404, description = "not a return code of a reservation of this account"),
              (status = 409, description = "returned already")),
    security(("api_key" = [])))]
async fn return_reservation(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<ReturnReservation>,
) -> Result<Json<ReservationInfo>, ApiError> {
    Ok(Json(
        admin::return_reservation(&s, &caller(p, a), &account, body).await?,
    ))
}

#[utoipa::path(post, path = "/accounts/{account}/reservations/confirm", tag = "reservations",
    params(("account" = String, Path, description = "Smart Account name or id")),
    request_body = ConfirmReservation,
    responses((status = 200, description = "the authorization the node installed is recorded", body = ReservationInfo),
              (status = 400, description = "a mistyped code, or one not signed by the reservation's node key"),
              (status = 404, description = "not a confirmation code of a reservation of this account"),
              (status = 409, description = "the reservation was returned")),
    security(("api_key" = [])))]
async fn confirm_reservation(
    State(s): State<AppState>,
    p: Principal,
    a: ClientAddr,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<ConfirmReservation>,
) -> Result<Json<ReservationInfo>, ApiError> {
    Ok(Json(
        admin::confirm_reservation(&s, &caller(p, a), &account, body).await?,
    ))
}
