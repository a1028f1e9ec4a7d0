// Berth's container networks, as berthd uses them: Docker's network modes
// (none, host, container:<id>, bridge networks), published ports, IPAM and
// firewall rules. This library depends on nothing else of berthd. See README.md.

export { Networks, type NetworksConfig, type CreateRequest, type AttachRequest } from './manager.js';
export type { NetworkRecord, EndpointRecord, PortMapping, Proto } from './state.js';
export { parsePublish, fromPortBindings, type PortRequest } from './ports.js';
export { hostsFile, resolvConf, hostModeResolvConf, type HostsInput, type ResolvInput } from './files.js';
export { parseMode, type NetworkMode } from './mode.js';
export { dockerView, containerSettings, type DockerNetwork, type DockerNetworkSettings } from './view.js';
export { listRules, listChains } from './firewall.js';
export { checkAddressPool, type AddressPool } from './ipam.js';
