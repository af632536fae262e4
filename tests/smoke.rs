mod common;
use common::*;

#[test]
fn set_get_restart() {
    let mut n = Node::start(&[]);
    let mut c = n.client();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v, "1");
    drop(c);
    n.stop();
    n.launch();
    let mut c = n.client();
    let v: String = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v, "1");
}
