//! Smart Accounts and their virtual accounts.

use super::*;

/// The API's view of an account row (a stored reservation word that does not parse reads as
/// `none`, the safe default).
pub(crate) fn account_info(a: AccountRow) -> AccountInfo {
    AccountInfo {
        reservation: a.reservation.parse().unwrap_or_default(),
        id: a.id.into(),
        name: a.name,
        domain: a.domain,
        created_at: a.created_at,
    }
}

fn va_info(v: VaRow) -> VirtualAccountInfo {
    VirtualAccountInfo {
        id: v.id.into(),
        account_id: v.account_id.into(),
        name: v.name,
        description: v.description,
        created_at: v.created_at,
    }
}

/// Creates a Smart Account (operator only) with its `DEFAULT` virtual account.
pub(crate) async fn create_account(
    state: &AppState,
    caller: &Caller,
    req: CreateAccount,
) -> Result<AccountInfo, ApiError> {
    require(&caller.principal, Action::CreateAccount, Scope::Global, "")?;
    let name = check_name("account name", &req.name, 100)?;
    let domain = check_name("domain", &req.domain, 253)?;
    if domain.contains(char::is_whitespace) {
        return Err(ApiError::BadRequest("domain must not contain spaces".into()));
    }
    let (a, _) = state
        .store()
        .create_account(&name, &domain, state.now(), &caller.audit())
        .await?;
    Ok(account_info(a))
}

/// Sets which reservations an account may make (operator only).
pub(crate) async fn set_reservation_policy(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: SetReservationPolicy,
) -> Result<AccountInfo, ApiError> {
    let a = resolve_account(state, caller, account, Action::SetReservationPolicy).await?;
    state
        .store()
        .set_account_reservation(&a, req.reservation.as_str(), state.now(), &caller.audit())
        .await?;
    Ok(AccountInfo {
        reservation: req.reservation,
        ..account_info(a)
    })
}

/// Accounts the caller can see.
pub(crate) async fn list_accounts(state: &AppState, caller: &Caller) -> Result<Vec<AccountInfo>, ApiError> {
    let all = state.store().list_accounts().await?;
    let visible = all
        .into_iter()
        .filter(|a| crate::auth::check(&caller.principal, Action::ReadAccount, Scope::Account(&a.id)).is_ok())
        .map(account_info)
        .collect();
    Ok(visible)
}

/// One account.
pub(crate) async fn get_account(state: &AppState, caller: &Caller, account: &str) -> Result<AccountInfo, ApiError> {
    Ok(account_info(
        resolve_account(state, caller, account, Action::ReadAccount).await?,
    ))
}

/// Virtual accounts of an account the caller can see.
pub(crate) async fn list_vas(
    state: &AppState,
    caller: &Caller,
    account: &str,
) -> Result<Vec<VirtualAccountInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let vas = state.store().list_vas(&a.id).await?;
    Ok(vas
        .into_iter()
        .filter(|v| caller.principal.va_restriction().is_none_or(|own| *own == v.id))
        .map(va_info)
        .collect())
}

/// Creates a virtual account.
pub(crate) async fn create_va(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: CreateVirtualAccount,
) -> Result<VirtualAccountInfo, ApiError> {
    let a = resolve_account(state, caller, account, Action::CreateVa).await?;
    let name = check_name("virtual account name", &req.name, 100)?;
    let description = check_free_text("description", &req.description, 500)?;
    let va = state
        .store()
        .create_va(&a.id, &name, &description, state.now(), &caller.audit())
        .await?;
    Ok(va_info(va))
}

/// Renames a virtual account; the name stays unique in the account.
pub(crate) async fn rename_va(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: &str,
    req: RenameVirtualAccount,
) -> Result<VirtualAccountInfo, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::ManageVa).await?;
    let name = check_name("virtual account name", &req.name, 100)?;
    let renamed = state.store().rename_va(&v, &name, state.now(), &caller.audit()).await?;
    Ok(va_info(renamed))
}

/// Deletes a virtual account that holds nothing (no licences, product instances, reservations,
/// usable tokens or users); never `DEFAULT`.
pub(crate) async fn delete_va(state: &AppState, caller: &Caller, account: &str, va: &str) -> Result<(), ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::ManageVa).await?;
    Ok(state.store().delete_va(&v, state.now(), &caller.audit()).await?)
}
