import type { Marketplace } from '../marketplace/marketplace.js';
import type { Accounts } from '../accounts/accounts.js';
import type { VolumeService } from '../volumes/service.js';
import type { CloudService } from '../cloud/cloud.js';

/** What the HTTP layer needs from the Marketplace service (its public methods, nothing else). */
export type MarketplaceApi = Pick<Marketplace, 'fields' | 'publish' | 'publishServiceDraft' | 'pendingUpload' | 'confirmUpload' | 'abortUpload' | 'reportUpload' | 'get' | 'byTag' | 'list' | 'listXml' | 'endorsers' | 'endorserEntries' | 'tags'>;
export type AccountsApi = Pick<Accounts, 'authenticate' | 'account' | 'add' | 'list' | 'passwd' | 'remove' | 'setQuota'>;
export type VolumesApi = Pick<VolumeService, 'list' | 'get' | 'create' | 'upload' | 'update' | 'delete' | 'copy' | 'snapshot' | 'rebase' | 'download' | 'mounts' | 'mount' | 'unmount'>;

export type InstancesApi = Pick<CloudService, 'run' | 'list' | 'get' | 'kill' | 'shutdown' | 'consoleLog' | 'context' | 'attach' | 'detach' | 'volumes' | 'saveLayer' | 'layer' | 'deleteLayer'>;

/** Every service the API serves; main/ wires the concrete ones. */
export interface Services {
  marketplace: MarketplaceApi;
  accounts?: AccountsApi;
  volumes?: VolumesApi;
  instances?: InstancesApi;
}
