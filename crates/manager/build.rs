// New migration files change what `sqlx::migrate!` embeds; rebuild when they do.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
