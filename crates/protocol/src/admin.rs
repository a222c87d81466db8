//! JSON types of the administration API (`/api/v1/...` outside `/device`), shared by the manager
//! and the `smartlic` admin client.
