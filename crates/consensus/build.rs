fn main() {
    println!("cargo:rerun-if-changed=../../proto/meridian.proto");
    tonic_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(&["../../proto/meridian.proto"], &["../../proto"])
        .expect("compile proto/meridian.proto (needs protoc: apt-get install protobuf-compiler)");
}
