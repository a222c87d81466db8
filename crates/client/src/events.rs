//! The event log's filter: what `GET …/events` and `GET …/events.csv` take as their query.

/// Which events of an account to list, newest first; every field given narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Events of this virtual account (name or id).
    pub va: Option<String>,
    /// Actions starting with this, e.g. `token.` or `device.register`.
    pub action: Option<String>,
    /// Exactly this actor: `operator`, a user's e-mail, `device:<instance id>`.
    pub actor: Option<String>,
    /// From this day on (YYYY-MM-DD, UTC).
    pub since: Option<String>,
    /// Up to and including this day (YYYY-MM-DD, UTC).
    pub until: Option<String>,
    /// Only events older than this event id: the cursor of the next page.
    pub after: Option<i64>,
    /// At most this many events (the manager takes 1-1000; 100 when not given).
    pub limit: Option<u32>,
}

impl EventFilter {
    /// The query pairs of the fields given, in a fixed order.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let text = [
            ("va", &self.va),
            ("action", &self.action),
            ("actor", &self.actor),
            ("since", &self.since),
            ("until", &self.until),
        ];
        let mut out: Vec<(&'static str, String)> = text
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .collect();
        if let Some(a) = self.after {
            out.push(("after", a.to_string()));
        }
        if let Some(l) = self.limit {
            out.push(("limit", l.to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_given_fields_are_sent() {
        assert!(EventFilter::default().query().is_empty());
        let f = EventFilter {
            va: Some("East Coast".into()),
            action: Some("token.".into()),
            until: Some("2027-01-31".into()),
            after: Some(42),
            limit: Some(5),
            ..Default::default()
        };
        assert_eq!(
            f.query(),
            vec![
                ("va", "East Coast".to_string()),
                ("action", "token.".to_string()),
                ("until", "2027-01-31".to_string()),
                ("after", "42".to_string()),
                ("limit", "5".to_string()),
            ]
        );
    }
}
