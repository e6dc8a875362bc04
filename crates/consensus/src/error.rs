//! The consensus crate's error types. Their `Display` is the text users and the
//! `meridian cluster` command see, so a wording change here is a visible change.
//! Errors that cross the wire (a remote member's refusal) travel as text and come back
//! as a `Remote` variant; openraft's own errors are kept as their text too, so no
//! openraft type leaves this crate.

use std::fmt;

/// A reply envelope from another member that could not be opened.
#[derive(Debug)]
pub enum ReplyError {
    /// The other side answered with an error text instead of a payload.
    Remote(String),
    /// The payload did not decode.
    BadPayload(bincode::Error),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Remote(m) => f.write_str(m),
            ReplyError::BadPayload(e) => write!(f, "bad payload: {e}"),
        }
    }
}

impl std::error::Error for ReplyError {}

/// Why the leader's read index (a linearizable read's wait point) is not available.
#[derive(Debug)]
pub enum ReadIndexError {
    NoLeader,
    LeaderAddressUnknown,
    /// This node leads, and Raft could not confirm it still does (openraft's text).
    Raft(String),
    /// No channel to the leader.
    Connect(tonic::transport::Error),
    TimedOut,
    /// The call to the leader failed.
    Rpc(tonic::Status),
    Reply(ReplyError),
    /// The leader answered with an error (its text).
    Remote(String),
}

impl fmt::Display for ReadIndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadIndexError::NoLeader => f.write_str("no leader"),
            ReadIndexError::LeaderAddressUnknown => f.write_str("leader address unknown"),
            ReadIndexError::Raft(m) | ReadIndexError::Remote(m) => f.write_str(m),
            ReadIndexError::Connect(e) => write!(f, "{e}"),
            ReadIndexError::TimedOut => f.write_str("read index timed out"),
            ReadIndexError::Rpc(s) => write!(f, "{s}"),
            ReadIndexError::Reply(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadIndexError {}

/// Why an admin request (membership change, leader transfer, status) failed.
#[derive(Debug)]
pub enum AdminError {
    NoLeader,
    LeaderAddressUnknown,
    /// Raft refused a membership change or an election (openraft's text).
    Raft(String),
    /// Leader transfer to a node that is not in the group.
    NotMember(u64),
    /// Leader transfer to a read replica.
    ReadReplica(u64),
    /// Leader transfer to a voter too far behind the leader's log.
    Behind(u64),
    /// The transfer target was not elected in time (openraft's reason).
    NotTakenOver {
        target: u64,
        reason: String,
    },
    /// No channel to the member at this address.
    Connect(tonic::transport::Error),
    /// The member at this address did not answer in time.
    NoAnswer(String),
    /// The call failed (e.g. a wrong cluster password): the status message.
    Rpc(tonic::Status),
    Reply(ReplyError),
    /// The member answered with an error (its text).
    Remote(String),
    /// The request is not possible as asked (the reason, for the operator).
    Refused(String),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::NoLeader => f.write_str("no leader"),
            AdminError::LeaderAddressUnknown => f.write_str("leader address unknown"),
            AdminError::Raft(m) | AdminError::Remote(m) | AdminError::Refused(m) => f.write_str(m),
            AdminError::NotMember(id) => write!(f, "node {id} is not a member"),
            AdminError::ReadReplica(id) => {
                write!(f, "node {id} is a read replica; promote it first")
            }
            AdminError::Behind(id) => write!(
                f,
                "node {id} is behind the leader's log; try again when it has caught up"
            ),
            AdminError::NotTakenOver { target, reason } => {
                write!(f, "node {target} did not take over: {reason}")
            }
            AdminError::Connect(e) => write!(f, "{e}"),
            AdminError::NoAnswer(addr) => write!(f, "{addr} did not answer in time"),
            AdminError::Rpc(s) => f.write_str(s.message()),
            AdminError::Reply(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AdminError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts users see (CLUSTERDOWN replies, `meridian cluster` output).
    #[test]
    fn texts() {
        assert_eq!(ReadIndexError::NoLeader.to_string(), "no leader");
        assert_eq!(
            ReadIndexError::LeaderAddressUnknown.to_string(),
            "leader address unknown"
        );
        assert_eq!(ReadIndexError::TimedOut.to_string(), "read index timed out");
        assert_eq!(ReadIndexError::Remote("x y".into()).to_string(), "x y");
        assert_eq!(AdminError::NoLeader.to_string(), "no leader");
        assert_eq!(
            AdminError::NotMember(3).to_string(),
            "node 3 is not a member"
        );
        assert_eq!(
            AdminError::ReadReplica(3).to_string(),
            "node 3 is a read replica; promote it first"
        );
        assert_eq!(
            AdminError::Behind(3).to_string(),
            "node 3 is behind the leader's log; try again when it has caught up"
        );
        assert_eq!(
            AdminError::NotTakenOver {
                target: 3,
                reason: "timeout".into()
            }
            .to_string(),
            "node 3 did not take over: timeout"
        );
        assert_eq!(
            AdminError::NoAnswer("h:1".into()).to_string(),
            "h:1 did not answer in time"
        );
        assert_eq!(
            AdminError::Rpc(tonic::Status::unauthenticated(
                "WRONGPASS invalid cluster password"
            ))
            .to_string(),
            "WRONGPASS invalid cluster password"
        );
        let bad = bincode::deserialize::<u64>(&[1]).unwrap_err();
        let text = format!("bad payload: {bad}");
        assert_eq!(
            AdminError::Reply(ReplyError::BadPayload(bad)).to_string(),
            text
        );
    }
}
