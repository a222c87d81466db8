//! Users of an account and API keys: create, list, disable/enable/remove, rotate keys, and
//! the caller behind a key.

use super::*;

pub(crate) fn user_info(u: UserRow) -> UserInfo {
    UserInfo {
        role: u.role.parse().unwrap_or(Role::VaUser),
        id: u.id,
        email: u.email,
        virtual_account: u.va_name,
        has_password: u.password_hash.is_some(),
        created_at: u.created_at,
        disabled: u.disabled_at.is_some(),
    }
}

/// Finds a user of the account, checking that the caller may manage them: an SA administrator
/// (or the operator) may manage anyone of the account; every user may rotate their own key.
async fn user_to_manage(
    state: &AppState,
    caller: &Caller,
    account: &str,
    user: &str,
    own_allowed: bool,
) -> Result<(AccountRow, UserRow), ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let row = state
        .store()
        .find_user(&a.id, user)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {:?} in Smart Account {}", user.trim(), a.name)))?;
    let own = matches!(&caller.principal, Principal::User(u) if u.id == row.id);
    if !(own && own_allowed) {
        require(
            &caller.principal,
            Action::ManageUsers,
            Scope::Account(&a.id),
            "Smart Account",
        )?;
    }
    Ok((a, row))
}

/// Disables, enables or removes a user. A user cannot disable or remove themselves (so an
/// account never locks its last administrator out by mistake: another administrator or the
/// operator does it).
pub(crate) async fn change_user(
    state: &AppState,
    caller: &Caller,
    account: &str,
    user: &str,
    change: UserChange<'static>,
) -> Result<Option<UserInfo>, ApiError> {
    let (_, row) = user_to_manage(state, caller, account, user, false).await?;
    if matches!(&caller.principal, Principal::User(u) if u.id == row.id)
        && matches!(change, UserChange::Disable | UserChange::Remove)
    {
        return Err(ApiError::Conflict(
            "you cannot disable or remove yourself; another administrator of the account can".into(),
        ));
    }
    let after = state
        .store()
        .change_user(&row, change, state.now(), &caller.audit())
        .await?;
    Ok(after.map(user_info))
}

/// Gives a user a new API key (the old one stops at once); the answer is the only place the new
/// key appears.
pub(crate) async fn rotate_user_key(
    state: &AppState,
    caller: &Caller,
    account: &str,
    user: &str,
) -> Result<CreatedUser, ApiError> {
    let (_, row) = user_to_manage(state, caller, account, user, true).await?;
    let api_key = crate::tokens::new_api_key();
    let hash = crate::tokens::hash_secret(&api_key);
    let after = state
        .store()
        .change_user(&row, UserChange::RotateKey(&hash), state.now(), &caller.audit())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {} was removed meanwhile", row.email)))?;
    Ok(CreatedUser {
        api_key,
        user: user_info(after),
    })
}

/// Replaces the operator key used for this request by a new one (the old one stops at once).
pub(crate) async fn rotate_operator_key(
    state: &AppState,
    caller: &Caller,
    used_key: &str,
) -> Result<RotatedKey, ApiError> {
    require(&caller.principal, Action::CreateAccount, Scope::Global, "operator key")?;
    let api_key = crate::tokens::new_api_key();
    if !state
        .store()
        .rotate_operator_key(
            &crate::tokens::hash_secret(used_key),
            &crate::tokens::hash_secret(&api_key),
            state.now(),
            &caller.audit(),
        )
        .await?
    {
        return Err(ApiError::Conflict("the operator key was rotated meanwhile".into()));
    }
    Ok(RotatedKey { api_key })
}

/// Creates a user; the answer is the only place their API key appears.
pub(crate) async fn create_user(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: CreateUser,
) -> Result<CreatedUser, ApiError> {
    let a = resolve_account(state, caller, account, Action::ManageUsers).await?;
    let email = check_name("e-mail", &req.email, 254)?;
    if !email.contains('@') || email.contains(char::is_whitespace) {
        return Err(ApiError::BadRequest(format!("{email:?} is not an e-mail address")));
    }
    let va_id = match (
        req.role.is_va_role(),
        req.va.as_deref().map(str::trim).filter(|v| !v.is_empty()),
    ) {
        (true, Some(va)) => Some(resolve_va(state, caller, &a, va, Action::ReadVa).await?.id),
        (true, None) => {
            return Err(ApiError::BadRequest(format!(
                "role {} is bound to a virtual account: give --va",
                req.role
            )));
        }
        (false, Some(_)) => {
            return Err(ApiError::BadRequest(format!(
                "role {} covers the whole Smart Account: leave out --va",
                req.role
            )));
        }
        (false, None) => None,
    };
    let password_hash = match req.password.as_deref() {
        None => None,
        Some(pw) if pw.chars().count() < 8 || pw.len() > 1024 => {
            return Err(ApiError::BadRequest("password must have 8 to 1024 characters".into()));
        }
        Some(pw) => {
            let pw = pw.to_string();
            Some(
                tokio::task::spawn_blocking(move || crate::auth::hash_password(&pw))
                    .await
                    .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))??,
            )
        }
    };
    let api_key = crate::tokens::new_api_key();
    let key_hash = crate::tokens::hash_secret(&api_key);
    let row = state
        .store()
        .create_user(
            NewUser {
                account_id: &a.id,
                email: &email,
                role: req.role.as_str(),
                va_id: va_id.as_ref(),
                api_key_hash: &key_hash,
                password_hash: password_hash.as_deref(),
            },
            state.now(),
            &caller.audit(),
        )
        .await?;
    Ok(CreatedUser {
        api_key,
        user: user_info(row),
    })
}

/// Users of an account.
pub(crate) async fn list_users(state: &AppState, caller: &Caller, account: &str) -> Result<Vec<UserInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadUsers).await?;
    Ok(state
        .store()
        .list_users(&a.id)
        .await?
        .into_iter()
        .map(user_info)
        .collect())
}

/// The caller behind an API key (SHA-256 looked up in operator keys, then users).
pub(crate) async fn principal_for_key(state: &AppState, key: &str) -> Result<Option<Principal>, ApiError> {
    let hash = crate::tokens::hash_secret(key);
    if state.store().is_operator_key(&hash).await? {
        return Ok(Some(Principal::Operator));
    }
    let Some(u) = state.store().user_by_key_hash(&hash).await? else {
        return Ok(None);
    };
    let role: Role = u
        .role
        .parse()
        .map_err(|e| ApiError::Internal(format!("stored role of user {}: {e}", u.id)))?;
    Ok(Some(Principal::User(crate::auth::User {
        id: u.id,
        email: u.email,
        account_id: u.account_id,
        role,
        va_id: u.va_id,
    })))
}
