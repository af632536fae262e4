//! Prints the supported commands as the README lists them.
fn main() {
    print!("{}", sledis::command::docs::markdown_list());
}
