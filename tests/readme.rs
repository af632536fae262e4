//! The README's command list is generated from the command table
//! (`cargo run --example command_list`); this keeps the two from drifting.

#[test]
fn readme_lists_every_command() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- commands:start -->\n")
        .expect("start marker")
        + "<!-- commands:start -->\n".len();
    let end = readme.find("<!-- commands:end -->").expect("end marker");
    assert_eq!(
        &readme[start..end],
        sledis::command::docs::markdown_list(),
        "README command list is stale: regenerate it with `cargo run --example command_list`"
    );
}
