//! Ids of the seed's objects as types of their own, so that a Smart Account's id cannot be
//! passed where a virtual account's is wanted. Each is its text and nothing else: stored and
//! bound as that text (`sqlx(transparent)`; read as text by rusqlite too), serialized as that string (`serde(transparent)`),
//! printed as it is. An id reads as its text wherever text is read (`Deref<Target = str>`:
//! formats, comparisons, `&str` parameters); a function that wants an id of one kind says so in
//! its signature, and nothing else passes there.

/// Defines one id type.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            Default,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id whose text is `id` (as stored, as sent).
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }

            /// A fresh random id (a UUID v4).
            pub fn fresh() -> $name {
                $name(uuid::Uuid::new_v4().to_string())
            }

            /// Its text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Its text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        /// Read as its text by the batch writer's SQLite connection (`store/batch_db.rs`).
        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<$name> {
                String::column_result(v).map($name)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_string())
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

id_type!(
    /// A Smart Account's id.
    AccountId
);
id_type!(
    /// A virtual account's id.
    VirtualAccountId
);
id_type!(
    /// A product instance's id (also the CN of its ID certificate).
    ProductInstanceId
);
id_type!(
    /// A registration token's id (what lists and revocations name; never its secret).
    TokenId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_text_in_json_and_print() {
        let va = VirtualAccountId::new("4f1c");
        assert_eq!(va.to_string(), "4f1c");
        assert_eq!(va.as_str(), "4f1c");
        assert_eq!(serde_json::to_string(&va).ok().as_deref(), Some("\"4f1c\""));
        let back: Result<VirtualAccountId, _> = serde_json::from_str("\"4f1c\"");
        assert_eq!(back.ok(), Some(va));
    }

    #[test]
    fn fresh_ids_differ() {
        assert_ne!(ProductInstanceId::fresh(), ProductInstanceId::fresh());
        assert_eq!(AccountId::fresh().as_str().len(), 36);
    }

    crate::testutil::on_both_engines!(an_id_is_bound_and_read_as_its_text);

    async fn an_id_is_bound_and_read_as_its_text(store: crate::store::Store) {
        let (account, va) = store
            .create_account("Ids", "ids.example", 0, &crate::store::Audit::system())
            .await
            .expect("account");
        let found = store.va_by_id(&va.id).await.expect("read").expect("found");
        assert_eq!(found, va);
        assert_eq!(found.account_id, account.id);
        let text: String = sqlx::query_scalar("SELECT id FROM virtual_accounts WHERE id = $1")
            .bind(va.id.as_str())
            .fetch_one(store.pool())
            .await
            .expect("text");
        assert_eq!(text, va.id.as_str());
    }
}
