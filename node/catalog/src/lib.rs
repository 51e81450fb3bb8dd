//! The catalog: every durable fact of a Peerbox node (users, accounts, channels, videos,
//! OAuth clients and tokens, uploads in progress, jobs) in one redb file.
//!
//! It owns the tables and the rules that keep them consistent (unique actor names, a video
//! and its job written in one transaction), and the privacy rules every reader applies
//! (`access`). It does no HTTP and no media work.

pub mod access;
mod comments;
mod error;
pub mod federation;
mod ids;
mod model;
mod store;
pub mod web_profiles;

mod jobs;
mod keys;
mod tokens;
mod uploads;
mod users;
mod video_changes;
mod videos;

pub use comments::{AccountRef, Comment, NewComment, Rating, VideoRating};
pub use error::{CatalogError, Result};
pub use federation::{
    ActorRef, Delivery, Follow, FollowState, RemoteActor, RemoteActorKind, RemoteFile, RemoteHls,
    RemoteVideo,
};
pub use ids::{VideoRef, short_uuid, uuid_from_short};
pub use keys::{ActorKey, INSTANCE_ACTOR_NAME, KeySource};
pub use model::*;
pub use store::{Catalog, SCHEMA_VERSION};
pub use tokens::{IssuedTokens, TokenRefusal};
pub use video_changes::{ChangeHook, FederatedVideo, VideoChange};
pub use web_profiles::Actor;
