//! The Supervisor's long-lived children besides the sessions: the Finalizer and the warm
//! browser pool, each started (and restarted after a failure) the same way.

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::{SupervisorArgs, SupervisorMsg};
use crate::finalizer::{FinalizerActor, FinalizerArgs, FinalizerMsg};
use crate::pool::{PoolActor, PoolArgs, PoolMsg};

/// Starts the warm pool (it warms up in the background) when the launcher can be pooled.
pub(super) async fn spawn_pool(
    myself: &ActorRef<SupervisorMsg>,
    args: &SupervisorArgs,
) -> Result<Option<ActorRef<PoolMsg>>, ActorProcessingErr> {
    if !args.launcher.pooled() {
        return Ok(None);
    }
    let pool_args = PoolArgs {
        config: args.config.clone(),
        published: args.reader.pool.clone(),
    };
    let (pool, _) = Actor::spawn_linked(None, PoolActor, pool_args, myself.get_cell()).await?;
    Ok(Some(pool))
}

pub(super) async fn spawn_finalizer(
    myself: &ActorRef<SupervisorMsg>,
    args: &SupervisorArgs,
) -> Result<ActorRef<FinalizerMsg>, ActorProcessingErr> {
    let (finalizer, _) = Actor::spawn_linked(
        None,
        FinalizerActor,
        FinalizerArgs {
            uploader: args.uploader.clone(),
        },
        myself.get_cell(),
    )
    .await?;
    Ok(finalizer)
}
