//! Compiles the vendored Kubernetes `.proto` files (see `proto/README.md`) into a descriptor set
//! the server uses to decode `application/vnd.kubernetes.protobuf` request bodies.

use std::path::{Path, PathBuf};

fn protos(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("proto directory")
        .map(|e| e.expect("proto directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            protos(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(
                path.strip_prefix(root)
                    .expect("under the root")
                    .to_path_buf(),
            );
        }
    }
}

fn main() {
    let root = Path::new("proto");
    println!("cargo:rerun-if-changed=proto");
    let mut files = Vec::new();
    protos(root, root, &mut files);
    let descriptors =
        protox::compile(&files, [root]).expect("the vendored Kubernetes protos compile");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(
        out.join("kubernetes.fds"),
        prost::Message::encode_to_vec(&descriptors),
    )
    .expect("writing the descriptor set");
}
