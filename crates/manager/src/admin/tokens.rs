//! Product Instance Registration tokens.

use super::*;

fn token_info(t: TokenRow, now: i64) -> TokenInfo {
    TokenInfo {
        status: crate::tokens::status(&t, now),
        id: t.id.into_string(),
        virtual_account: t.va_name,
        description: t.description,
        created_by: t.created_by,
        created_at: t.created_at,
        expires_at: t.expires_at,
        max_uses: t.max_uses.map(|m| m.max(0) as u64),
        uses: t.uses.max(0) as u64,
        revoked_at: t.revoked_at,
        export_controlled: t.export_controlled,
    }
}

/// Creates a registration token; the answer is the only place its secret appears.
pub(crate) async fn create_token(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: &str,
    req: CreateToken,
) -> Result<CreatedToken, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let v = resolve_va(state, caller, &a, va, Action::CreateToken).await?;
    if req.export_controlled {
        require(
            &caller.principal,
            Action::CreateExportToken,
            Scope::Va {
                account: &a.id,
                va: &v.id,
            },
            &format!("virtual account {:?}", va.trim()),
        )?;
    }
    let days = req.expires_days.unwrap_or(crate::tokens::DEFAULT_EXPIRES_DAYS);
    if days == 0 || days > crate::tokens::MAX_EXPIRES_DAYS {
        return Err(ApiError::BadRequest(format!(
            "expires-days must be 1 to {}",
            crate::tokens::MAX_EXPIRES_DAYS
        )));
    }
    let max_uses = match req.max_uses {
        None => None,
        Some(n) if n == 0 || n > MAX_QUANTITY => {
            return Err(ApiError::BadRequest(format!("max-uses must be 1 to {MAX_QUANTITY}")));
        }
        Some(n) => Some(n as i64),
    };
    let description = check_free_text("description", &req.description, 500)?;
    let secret = crate::tokens::new_token_secret();
    let now = state.now();
    let hash = crate::tokens::hash_secret(&secret);
    let row = state
        .store()
        .create_token(
            NewToken {
                va_id: &v.id,
                secret_hash: &hash,
                description: &description,
                expires_at: now + i64::from(days) * DAY,
                max_uses,
                export_controlled: req.export_controlled,
            },
            now,
            &caller.audit(),
        )
        .await?;
    Ok(CreatedToken {
        token: secret,
        info: token_info(row, now),
    })
}

/// Tokens of an account (or one virtual account).
pub(crate) async fn list_tokens(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: Option<&str>,
) -> Result<Vec<TokenInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let filter = va_filter(state, caller, &a, va).await?;
    let now = state.now();
    Ok(state
        .store()
        .list_tokens(&a.id, filter.as_ref())
        .await?
        .into_iter()
        .map(|t| token_info(t, now))
        .collect())
}

/// Revokes a token.
pub(crate) async fn revoke_token(
    state: &AppState,
    caller: &Caller,
    account: &str,
    token_id: &str,
) -> Result<TokenInfo, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let id = TokenId::new(token_id.trim());
    let t = state.store().find_token(&a.id, &id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no registration token {:?} in Smart Account {}",
            id.as_str(),
            a.name
        ))
    })?;
    require(
        &caller.principal,
        Action::RevokeToken,
        Scope::Va {
            account: &a.id,
            va: &t.va_id,
        },
        "registration token",
    )?;
    let now = state.now();
    let row = state.store().revoke_token(&t, now, &caller.audit()).await?;
    Ok(token_info(row, now))
}
