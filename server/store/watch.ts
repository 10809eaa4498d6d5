// `DeploymentStore.watch()` on top of a change feed, for both stores: the kinds serving reloads on
// (activation, env, tenant, limits), each delivered once, in order. Deployment uploads and token
// changes stay on the feed: a serving process has nothing to reload for them.
import type { ChangeFeed, ChangeKind, StoreChange } from './types';

const watchedKinds: ReadonlySet<ChangeKind> = new Set(['activation', 'env', 'tenant', 'limits']);

/** Calls `listener` for the feed's changes of the watched kinds; returns the unsubscribe. */
export function watchKinds(feed: ChangeFeed, listener: (change: StoreChange) => void): () => void {
  return feed.onChange((change) => {
    if (watchedKinds.has(change.kind)) listener(change);
  });
}

export function watchFeed(feed: ChangeFeed, listener: (change: StoreChange) => void): () => void {
  watchKinds(feed, listener);
  // a failed first read is retried by the feed itself
  feed.start().catch(() => {});
  return () => void feed.close();
}
