//! The product catalog: software tags, entitlement tags and the on/off feature enforcement policy,
//! loaded from data (`catalog/staros.toml` ships as the default).

use serde::Deserialize;
use std::collections::HashSet;

/// The catalog that ships with smartlic: the seed's StarOS tags.
pub const STAROS_CATALOG_TOML: &str = include_str!("../catalog/staros.toml");

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The TOML text did not parse or did not have the catalog's shape.
    #[error("catalog does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    /// The catalog parsed but contradicts itself.
    #[error("catalog is inconsistent: {0}")]
    Invalid(String),
}

/// A licensable software product (one per platform).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SoftwareTag {
    /// Platform name as the operator types it (`ASR5500`, `VPC-SI`, `VPC-DI`).
    pub platform: String,
    /// Human description.
    pub description: String,
    /// The `regid…` software tag.
    pub tag: String,
    /// The most concurrent sessions of one service one instance of this platform can carry: a
    /// usage report above it (in licences, rounded up) is refused by the license manager.
    pub max_sessions_per_service: u64,
}

/// A counting entitlement: sessions of one service type, sold in bundles.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntitlement {
    /// TagId from the seed (0-6 for StarOS).
    pub tag_id: u32,
    /// SKU, e.g. `ASR5K-00-PW10GTWY`.
    pub sku: String,
    /// Service type name used by the CLI (`pgw`, `saegw`, …).
    pub service: String,
    /// Human description.
    pub description: String,
    /// The `regid…` entitlement tag.
    pub tag: String,
}

/// An on/off feature entitlement with its default enforcement policy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FeatureEntitlement {
    /// TagId from the seed (0-8 for StarOS).
    pub tag_id: u32,
    /// SKU, e.g. `ASR5K-00-EG01RS`.
    pub sku: String,
    /// Human description.
    pub description: String,
    /// The `regid…` entitlement tag.
    pub tag: String,
    /// Services tied to this feature.
    pub services: Vec<String>,
    /// Whether new calls of the tied services are blocked once the grace period is over.
    pub enforced: bool,
    /// Why the default policy is what it is.
    pub why: String,
}

/// Either kind of entitlement, borrowed from the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entitlement<'a> {
    /// A counting (session bundle) licence.
    Service(&'a ServiceEntitlement),
    /// An on/off feature licence.
    Feature(&'a FeatureEntitlement),
}

impl<'a> Entitlement<'a> {
    /// The SKU.
    pub fn sku(&self) -> &'a str {
        match self {
            Entitlement::Service(s) => &s.sku,
            Entitlement::Feature(f) => &f.sku,
        }
    }
    /// The `regid…` tag.
    pub fn tag(&self) -> &'a str {
        match self {
            Entitlement::Service(s) => &s.tag,
            Entitlement::Feature(f) => &f.tag,
        }
    }
    /// The description.
    pub fn description(&self) -> &'a str {
        match self {
            Entitlement::Service(s) => &s.description,
            Entitlement::Feature(f) => &f.description,
        }
    }
}

/// The whole catalog of one vendor.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Vendor or product family name.
    pub vendor: String,
    /// Sessions covered by one counting licence (10000 for StarOS).
    pub sessions_per_counting_license: u64,
    /// Length of the evaluation period in days.
    pub evaluation_days: u32,
    /// Grace period of an out-of-compliance on/off feature, in days.
    pub feature_grace_days: u32,
    /// Software tags, one per platform.
    pub software: Vec<SoftwareTag>,
    /// Counting entitlements in TagId order.
    pub service: Vec<ServiceEntitlement>,
    /// On/off feature entitlements in TagId order.
    pub feature: Vec<FeatureEntitlement>,
}

impl Catalog {
    /// The built-in StarOS catalog.
    pub fn staros() -> Catalog {
        // The built-in catalog is checked by a unit test; failing here is a build defect.
        #[allow(clippy::expect_used)]
        Catalog::from_toml_str(STAROS_CATALOG_TOML).expect("built-in catalog is valid")
    }

    /// Parses and checks a catalog.
    ///
    /// ```
    /// let c = smartlic_protocol::Catalog::from_toml_str(smartlic_protocol::catalog::STAROS_CATALOG_TOML).unwrap();
    /// assert_eq!(c.service_by_name("pgw").unwrap().sku, "ASR5K-00-PW10GTWY");
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Catalog, CatalogError> {
        let c: Catalog = toml::from_str(text)?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<(), CatalogError> {
        if self.sessions_per_counting_license == 0 {
            return Err(CatalogError::Invalid("sessions_per_counting_license is 0".into()));
        }
        if let Some(s) = self.software.iter().find(|s| s.max_sessions_per_service == 0) {
            return Err(CatalogError::Invalid(format!(
                "platform {} has max_sessions_per_service 0",
                s.platform
            )));
        }
        if self.service.len() > 32 {
            return Err(CatalogError::Invalid("at most 32 services".into()));
        }
        let mut skus = HashSet::new();
        for sku in self
            .service
            .iter()
            .map(|s| &s.sku)
            .chain(self.feature.iter().map(|f| &f.sku))
        {
            if !skus.insert(sku.as_str()) {
                return Err(CatalogError::Invalid(format!("SKU {sku} appears twice")));
            }
        }
        let mut names = HashSet::new();
        for s in &self.service {
            if !names.insert(s.service.as_str()) {
                return Err(CatalogError::Invalid(format!("service {} appears twice", s.service)));
            }
        }
        for f in &self.feature {
            for s in &f.services {
                if !names.contains(s.as_str()) {
                    return Err(CatalogError::Invalid(format!(
                        "feature {} is tied to unknown service {s}",
                        f.sku
                    )));
                }
            }
        }
        Ok(())
    }

    /// Looks an entitlement up by SKU (case-insensitive).
    pub fn entitlement(&self, sku: &str) -> Option<Entitlement<'_>> {
        self.service
            .iter()
            .find(|s| s.sku.eq_ignore_ascii_case(sku))
            .map(Entitlement::Service)
            .or_else(|| {
                self.feature
                    .iter()
                    .find(|f| f.sku.eq_ignore_ascii_case(sku))
                    .map(Entitlement::Feature)
            })
    }

    /// The counting entitlement of a service name (`pgw`, …).
    pub fn service_by_name(&self, name: &str) -> Option<&ServiceEntitlement> {
        self.service.iter().find(|s| s.service.eq_ignore_ascii_case(name))
    }

    /// Index of a service in `self.service` (its slot in per-service tables).
    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.service.iter().position(|s| s.service.eq_ignore_ascii_case(name))
    }

    /// The software tag of a platform.
    pub fn software_for(&self, platform: &str) -> Option<&SoftwareTag> {
        self.software.iter().find(|s| s.platform.eq_ignore_ascii_case(platform))
    }

    /// Licences needed for `sessions` concurrent sessions: ceil(sessions / bundle size).
    pub fn licenses_for_sessions(&self, sessions: u64) -> u64 {
        sessions.div_ceil(self.sessions_per_counting_license)
    }

    /// The platforms of the catalog, for messages: `ASR5500, VPC-SI, VPC-DI`.
    pub fn platform_names(&self) -> String {
        self.software
            .iter()
            .map(|s| s.platform.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The software product with this `regid…` tag.
    pub fn software_by_tag(&self, tag: &str) -> Option<&SoftwareTag> {
        self.software.iter().find(|s| s.tag == tag)
    }

    /// The most licences one instance of `software` can use of `entitlement`: its platform's
    /// session capacity in bundles for a counting licence, 1 for an on/off feature.
    pub fn max_licenses(&self, software: &SoftwareTag, entitlement: Entitlement<'_>) -> u64 {
        match entitlement {
            Entitlement::Service(_) => self.licenses_for_sessions(software.max_sessions_per_service),
            Entitlement::Feature(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_matches_the_seed() {
        let c = Catalog::from_toml_str(STAROS_CATALOG_TOML).unwrap();
        let names: Vec<_> = c.service.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(names, ["pgw", "saegw", "ggsn", "sgw", "mme", "epdg", "samog"]);
        assert_eq!(
            c.service.iter().map(|s| s.tag_id).collect::<Vec<_>>(),
            (0..7).collect::<Vec<_>>()
        );
        assert_eq!(
            c.feature.iter().map(|s| s.tag_id).collect::<Vec<_>>(),
            (0..9).collect::<Vec<_>>()
        );
        assert_eq!(c.software.len(), 3);
        let rs = c.entitlement("ASR5K-00-EG01RS").unwrap();
        match rs {
            Entitlement::Feature(f) => {
                assert!(f.enforced);
                assert_eq!(f.services, ["epdg"]);
            }
            Entitlement::Service(_) => panic!("EG01RS is a feature"),
        }
        match c.entitlement("asr5k-00-cs01mpls").unwrap() {
            Entitlement::Feature(f) => assert!(!f.enforced),
            Entitlement::Service(_) => panic!("CS01MPLS is a feature"),
        }
        for s in &c.service {
            assert!(s.tag.contains(&s.sku), "{} tag names its SKU", s.sku);
        }
        for f in &c.feature {
            assert!(f.tag.contains(&f.sku), "{} tag names its SKU", f.sku);
            assert!(!f.why.is_empty());
        }
    }

    #[test]
    fn license_count_is_ceiling_of_bundles() {
        let c = Catalog::staros();
        assert_eq!(c.licenses_for_sessions(0), 0);
        assert_eq!(c.licenses_for_sessions(1), 1);
        assert_eq!(c.licenses_for_sessions(10000), 1);
        assert_eq!(c.licenses_for_sessions(10001), 2);
        assert_eq!(c.licenses_for_sessions(15000), 2);
    }

    #[test]
    fn a_second_vendor_loads_without_code() {
        let text = r#"
vendor = "Other"
sessions_per_counting_license = 500
evaluation_days = 30
feature_grace_days = 10
feature = []
[[software]]
platform = "X1"
description = "x"
tag = "regid.x"
max_sessions_per_service = 5000
[[service]]
tag_id = 0
sku = "X-SESS"
service = "web"
description = "web sessions"
tag = "regid.x.X-SESS"
"#;
        let c = Catalog::from_toml_str(text).unwrap();
        assert_eq!(c.licenses_for_sessions(501), 2);
        let x1 = c.software_by_tag("regid.x").unwrap();
        assert_eq!(c.max_licenses(x1, c.entitlement("X-SESS").unwrap()), 10);
        // A platform without a capacity, or with none, is refused.
        assert!(Catalog::from_toml_str(&text.replace("max_sessions_per_service = 5000\n", "")).is_err());
        assert!(Catalog::from_toml_str(&text.replace("= 5000", "= 0")).is_err());
    }

    #[test]
    fn inconsistent_catalogs_are_refused() {
        let dup = STAROS_CATALOG_TOML.replace("ASR5K-00-SG10\"", "ASR5K-00-PW10GTWY\"");
        assert!(matches!(Catalog::from_toml_str(&dup), Err(CatalogError::Invalid(_))));
        let unknown = STAROS_CATALOG_TOML.replace("services = [\"epdg\"]", "services = [\"nope\"]");
        assert!(matches!(
            Catalog::from_toml_str(&unknown),
            Err(CatalogError::Invalid(_))
        ));
        assert!(matches!(
            Catalog::from_toml_str("vendor = 1"),
            Err(CatalogError::Parse(_))
        ));
    }
}
