//! Command errors carry the complete Redis error text (code prefix included).

use resp::Frame;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub String);

pub type CmdResult = Result<Frame, CmdError>;

impl CmdError {
    pub fn new(msg: impl Into<String>) -> CmdError {
        CmdError(msg.into())
    }
    pub fn syntax() -> CmdError {
        CmdError::new("ERR syntax error")
    }
    pub fn not_integer() -> CmdError {
        CmdError::new("ERR value is not an integer or out of range")
    }
    pub fn not_float() -> CmdError {
        CmdError::new("ERR value is not a valid float")
    }
    pub fn wrong_type() -> CmdError {
        CmdError::new("WRONGTYPE Operation against a key holding the wrong kind of value")
    }
    pub fn no_such_key() -> CmdError {
        CmdError::new("ERR no such key")
    }
    pub fn overflow() -> CmdError {
        CmdError::new("ERR increment or decrement would overflow")
    }
    pub fn wrong_arity(name: &str) -> CmdError {
        CmdError::new(format!(
            "ERR wrong number of arguments for '{}' command",
            name.to_ascii_lowercase()
        ))
    }
    pub fn unknown_command(name: &[u8], args: &[Vec<u8>]) -> CmdError {
        let mut with = String::new();
        for a in args.iter().take(20) {
            with.push('\'');
            with.push_str(&String::from_utf8_lossy(a));
            with.push_str("' ");
        }
        CmdError::new(format!(
            "ERR unknown command '{}', with args beginning with: {}",
            String::from_utf8_lossy(name),
            with
        ))
    }
    pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> CmdError {
        CmdError::new(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(sub),
            cmd.to_ascii_uppercase()
        ))
    }
    pub fn storage(msg: impl std::fmt::Display) -> CmdError {
        CmdError::new(format!("ERR storage error: {msg}"))
    }
    pub fn key_too_large(actual: usize) -> CmdError {
        CmdError::new(format!(
            "ERR max key size exceeded. Limit: {} bytes, Actual: {} bytes",
            crate::MAX_KEY_BYTES,
            actual
        ))
    }
}

impl From<CmdError> for Frame {
    fn from(e: CmdError) -> Frame {
        Frame::Error(e.0)
    }
}

/// On the read path a failed read is the reader's error reply. In the apply path the
/// reply is never what decides: the transaction remembers the failure
/// ([`crate::Txn::storage_failure`]) and the applier refuses to persist the entry.
impl From<crate::store::StoreError> for CmdError {
    fn from(e: crate::store::StoreError) -> CmdError {
        CmdError::storage(e.0)
    }
}
