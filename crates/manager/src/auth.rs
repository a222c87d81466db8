//! Who is calling and what they may do. The operator (the key in `admin.key`) may do everything;
//! a user acts within one Smart Account with one of four roles (VA roles bound to one virtual
//! account). The rights table is [`check`], a pure function tested pair by pair.
//!
//! | action | sa-admin | sa-user | va-admin | va-user |
//! |---|---|---|---|---|
//! | read the account, its VAs (their own VA for VA roles) | ✓ | ✓ | own VA | own VA |
//! | create, rename and delete virtual accounts | ✓ | ✓ | | |
//! | transfer licences | ✓ | ✓ | own VA (both ends) | |
//! | create tokens | ✓ | ✓ | own VA | own VA |
//! | create export-controlled tokens | ✓ | | | |
//! | revoke tokens, remove instances | ✓ | ✓ | own VA | |
//! | move instances between virtual accounts | ✓ | ✓ | own VA (both ends) | |
//! | read users and the event log | ✓ | ✓ | | |
//! | create, disable, remove users; rotate their keys; webhooks | ✓ | | | |
//! | deposit licences, issue legacy keys | operator only | | | |
//! | create accounts, list all accounts | operator only | | | |
//! | review (approve, reject) Smart Account requests | operator only | | | |
//! | create, list and answer satellite managers | ✓ | | | |
//!
//! Deposits are the operator's alone: licences come from the vendor's order system, never from a
//! customer's own users, or compliance would mean nothing. Every user may rotate their own API key.
//! A user of another account is told the account does not exist (404, never data); a user of the
//! right account without the right gets 403.

use crate::api::ApiError;
use crate::ids::{AccountId, VirtualAccountId};
use smartlic_protocol::admin::Role;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator of the manager.
    Operator,
    /// A user of a Smart Account.
    User(User),
}

/// A user as the rights check sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: String,
    /// E-mail (the actor in the event log).
    pub email: String,
    /// Smart Account id.
    pub account_id: AccountId,
    /// Role.
    pub role: Role,
    /// Virtual account id (VA roles).
    pub va_id: Option<VirtualAccountId>,
}

impl Principal {
    /// The name recorded in the event log.
    pub fn actor(&self) -> String {
        match self {
            Principal::Operator => "operator".into(),
            Principal::User(u) => u.email.clone(),
        }
    }

    /// The only virtual account this caller may see in `account_id`, if restricted to one.
    pub fn va_restriction(&self) -> Option<&VirtualAccountId> {
        match self {
            Principal::User(u) if u.role.is_va_role() => u.va_id.as_ref(),
            _ => None,
        }
    }
}

/// Something a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    /// Create a Smart Account.
    CreateAccount,
    /// List every Smart Account.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "a right of the table no endpoint asks for yet: listing filters by ReadAccount"
        )
    )]
    ListAllAccounts,
    /// Read an account (and the VAs the caller may see).
    ReadAccount,
    /// Read a virtual account: licences, tokens, instances.
    ReadVa,
    /// Create a virtual account.
    CreateVa,
    /// Rename or delete a virtual account.
    ManageVa,
    /// Deposit purchased licences into a virtual account (the vendor's act: operator only).
    DepositLicenses,
    /// Issue a legacy licence key bound to a chassis (the vendor's act: operator only).
    IssueLegacyKey,
    /// Transfer licences between virtual accounts (both ends are checked).
    TransferLicenses,
    /// Create a registration token in a virtual account.
    CreateToken,
    /// Create a token that allows export-controlled functionality.
    CreateExportToken,
    /// Revoke a token of a virtual account.
    RevokeToken,
    /// Remove a product instance of a virtual account.
    RemoveInstance,
    /// Move a product instance between virtual accounts (both ends are checked).
    MoveInstance,
    /// Read the users of an account.
    ReadUsers,
    /// Create, disable, enable and remove users of an account, and rotate their API keys.
    ManageUsers,
    /// Read the event log of an account.
    ReadEvents,
    /// Add, list and remove the alert webhooks of an account.
    ManageWebhooks,
    /// List, approve and reject Smart Account requests (operator only).
    ReviewAccountRequests,
    /// Set which licence reservations an account may make (the vendor's act: operator only).
    SetReservationPolicy,
    /// Create, list, update, return and confirm the licence reservations of a virtual account.
    ManageReservations,
    /// Create and list the satellite managers of an account, and answer their requests.
    ManageSatellites,
}

impl Action {
    /// Every action (the rights table's tests walk it).
    #[cfg(test)]
    pub(crate) const ALL: [Action; 22] = [
        Action::CreateAccount,
        Action::ListAllAccounts,
        Action::ReadAccount,
        Action::ReadVa,
        Action::CreateVa,
        Action::ManageVa,
        Action::DepositLicenses,
        Action::IssueLegacyKey,
        Action::TransferLicenses,
        Action::CreateToken,
        Action::CreateExportToken,
        Action::RevokeToken,
        Action::RemoveInstance,
        Action::MoveInstance,
        Action::ReadUsers,
        Action::ManageUsers,
        Action::ReadEvents,
        Action::ManageWebhooks,
        Action::ReviewAccountRequests,
        Action::SetReservationPolicy,
        Action::ManageReservations,
        Action::ManageSatellites,
    ];

    fn describe(&self) -> &'static str {
        match self {
            Action::CreateAccount => "create Smart Accounts",
            Action::ListAllAccounts => "list every Smart Account",
            Action::ReadAccount => "read this Smart Account",
            Action::ReadVa => "read this virtual account",
            Action::CreateVa => "create virtual accounts",
            Action::ManageVa => "rename or delete virtual accounts",
            Action::DepositLicenses => "deposit licenses (licenses come from the vendor: operator only)",
            Action::IssueLegacyKey => "issue legacy licence keys (operator only)",
            Action::TransferLicenses => "transfer licenses",
            Action::CreateToken => "create registration tokens",
            Action::CreateExportToken => "create tokens allowing export-controlled functionality",
            Action::RevokeToken => "revoke registration tokens",
            Action::RemoveInstance => "remove product instances",
            Action::MoveInstance => "move product instances between virtual accounts",
            Action::ReadUsers => "list users",
            Action::ManageUsers => "manage users",
            Action::ReadEvents => "read the event log",
            Action::ManageWebhooks => "manage alert webhooks",
            Action::ReviewAccountRequests => "review Smart Account requests (operator only)",
            Action::SetReservationPolicy => "allow licence reservation (operator only)",
            Action::ManageReservations => "manage licence reservations",
            Action::ManageSatellites => "manage satellite managers",
        }
    }
}

/// Where an action applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// The whole manager.
    Global,
    /// A Smart Account.
    Account(&'a AccountId),
    /// A virtual account of a Smart Account.
    Va {
        /// Account id.
        account: &'a AccountId,
        /// Virtual account id.
        va: &'a VirtualAccountId,
    },
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Denied {
    /// The object is outside the caller's Smart Account (say "not found").
    Hidden,
    /// Inside the caller's account but not allowed by the role.
    NotAllowed(String),
}

/// The rights table.
pub(crate) fn check(p: &Principal, action: Action, scope: Scope<'_>) -> Result<(), Denied> {
    let user = match p {
        Principal::Operator => return Ok(()),
        Principal::User(u) => u,
    };
    let refuse = || {
        Err(Denied::NotAllowed(format!(
            "role {} may not {}",
            user.role,
            action.describe()
        )))
    };
    let (account, va) = match scope {
        Scope::Global => return refuse(),
        Scope::Account(a) => (a, None),
        Scope::Va { account, va } => (account, Some(va)),
    };
    if *account != user.account_id {
        return Err(Denied::Hidden);
    }
    // VA roles act only on their own virtual account.
    let own_va = match (user.role.is_va_role(), va) {
        (false, _) => true,
        (true, Some(va)) => user.va_id.as_ref() == Some(va),
        (true, None) => false,
    };
    let allowed = match action {
        Action::CreateAccount
        | Action::ListAllAccounts
        | Action::DepositLicenses
        | Action::IssueLegacyKey
        | Action::ReviewAccountRequests
        | Action::SetReservationPolicy => false,
        Action::ReadAccount => true,
        Action::ReadVa | Action::CreateToken => own_va,
        Action::CreateVa | Action::ManageVa | Action::ReadUsers | Action::ReadEvents => {
            matches!(user.role, Role::SaAdmin | Role::SaUser)
        }
        Action::TransferLicenses | Action::RevokeToken | Action::RemoveInstance | Action::MoveInstance => {
            match user.role {
                Role::SaAdmin | Role::SaUser => true,
                Role::VaAdmin => own_va,
                Role::VaUser => false,
            }
        }
        Action::ManageUsers | Action::ManageWebhooks | Action::CreateExportToken | Action::ManageSatellites => {
            user.role == Role::SaAdmin
        }
        Action::ManageReservations => match user.role {
            Role::SaAdmin => true,
            Role::VaAdmin => own_va,
            Role::SaUser | Role::VaUser => false,
        },
    };
    if allowed {
        Ok(())
    } else if user.role.is_va_role() && va.is_some() && !own_va {
        Err(Denied::NotAllowed(format!(
            "role {} is limited to its own virtual account",
            user.role
        )))
    } else {
        refuse()
    }
}

/// [`check`] as an API answer; `what` names the hidden object ("Smart Account acme").
pub(crate) fn require(p: &Principal, action: Action, scope: Scope<'_>, what: &str) -> Result<(), ApiError> {
    check(p, action, scope).map_err(|d| match d {
        Denied::Hidden => ApiError::NotFound(format!("no {what}")),
        Denied::NotAllowed(why) => ApiError::Forbidden(why),
    })
}

/// Hashes a portal password (argon2id, random salt).
pub(crate) fn hash_password(password: &str) -> Result<String, ApiError> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("password hashing: {e}")))
}

/// Checks a portal password against its stored hash (the portal checks with its own bounded
/// memory; tests check what it stored with this).
#[cfg(test)]
pub(crate) fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    PasswordHash::new(phc)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "acct-a";
    const B: &str = "acct-b";
    const VA1: &str = "va-1";
    const VA2: &str = "va-2";

    fn user(role: Role) -> Principal {
        Principal::User(User {
            id: "u".into(),
            email: "u@example.com".into(),
            account_id: AccountId::new(A),
            role,
            va_id: role.is_va_role().then(|| VirtualAccountId::new(VA1)),
        })
    }

    /// Expected outcome of (role, action) on the user's own VA / another VA of the account /
    /// the account itself: 'y' allowed, 'n' refused (403).
    fn expected(role: Role, action: Action) -> [char; 3] {
        use Action::*;
        use Role::*;
        match (role, action) {
            (
                _,
                CreateAccount
                | ListAllAccounts
                | DepositLicenses
                | IssueLegacyKey
                | ReviewAccountRequests
                | SetReservationPolicy,
            ) => ['n', 'n', 'n'],
            (_, ReadAccount) => ['y', 'y', 'y'],
            (SaAdmin, ManageUsers | ManageWebhooks | CreateExportToken | ManageSatellites) => ['y', 'y', 'y'],
            (_, ManageUsers | ManageWebhooks | CreateExportToken | ManageSatellites) => ['n', 'n', 'n'],
            (SaAdmin, ManageReservations) => ['y', 'y', 'y'],
            (SaUser | VaUser, ManageReservations) => ['n', 'n', 'n'],
            (VaAdmin, ManageReservations) => ['y', 'n', 'n'],
            (SaAdmin | SaUser, _) => ['y', 'y', 'y'],
            (VaAdmin, ReadVa | CreateToken | TransferLicenses | RevokeToken | RemoveInstance | MoveInstance) => {
                ['y', 'n', 'n']
            }
            (VaUser, ReadVa | CreateToken) => ['y', 'n', 'n'],
            (VaAdmin | VaUser, _) => ['n', 'n', 'n'],
        }
    }

    #[test]
    fn every_role_and_right_pair() {
        let (a, b) = (AccountId::new(A), AccountId::new(B));
        let (va1, va2) = (VirtualAccountId::new(VA1), VirtualAccountId::new(VA2));
        let va_of = |account, va| Scope::Va { account, va };
        for role in Role::ALL {
            let p = user(role);
            for action in Action::ALL {
                let got = [
                    check(&p, action, va_of(&a, &va1)),
                    check(&p, action, va_of(&a, &va2)),
                    check(&p, action, Scope::Account(&a)),
                ]
                .map(|r| match r {
                    Ok(()) => 'y',
                    Err(Denied::NotAllowed(_)) => 'n',
                    Err(Denied::Hidden) => 'h',
                });
                assert_eq!(got, expected(role, action), "{role} {action:?}");
                // Another account is never visible, whatever the right.
                if !matches!(action, Action::CreateAccount | Action::ListAllAccounts) {
                    assert_eq!(
                        check(&p, action, Scope::Account(&b)),
                        Err(Denied::Hidden),
                        "{role} {action:?}"
                    );
                    assert_eq!(
                        check(&p, action, va_of(&b, &va1)),
                        Err(Denied::Hidden),
                        "{role} {action:?} same VA id in another account"
                    );
                }
                assert!(check(&p, action, Scope::Global).is_err());
                assert_eq!(check(&Principal::Operator, action, Scope::Global), Ok(()));
            }
        }
    }

    #[test]
    fn refusals_become_404_or_403() {
        let p = user(Role::VaUser);
        let e = require(
            &p,
            Action::ReadAccount,
            Scope::Account(&AccountId::new(B)),
            "Smart Account b",
        )
        .unwrap_err();
        assert_eq!(e, ApiError::NotFound("no Smart Account b".into()));
        let e = require(
            &p,
            Action::RevokeToken,
            Scope::Va {
                account: &AccountId::new(A),
                va: &VirtualAccountId::new(VA1),
            },
            "x",
        )
        .unwrap_err();
        assert!(
            matches!(e, ApiError::Forbidden(ref m) if m.contains("va-user")),
            "{e:?}"
        );
        assert_eq!(p.va_restriction(), Some(&VirtualAccountId::new(VA1)));
        assert_eq!(user(Role::SaUser).va_restriction(), None);
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a phc string"));
    }
}
