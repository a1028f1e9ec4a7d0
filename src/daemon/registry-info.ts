// /info's RegistryConfig as dockerd fills it: CIDRs in InsecureRegistryCIDRs
// (the docker CLI parses each as a CIDR and fails the whole `docker info`
// on a host name), named registries in IndexConfigs with Secure false, and
// Docker Hub's entry always there.

interface IndexInfo {
  Name: string;
  Mirrors: string[];
  Secure: boolean;
  Official: boolean;
}

export interface RegistryInfo {
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, IndexInfo>;
  Mirrors: string[];
}

export function registryInfo(insecure: readonly string[]): RegistryInfo {
  const index: Record<string, IndexInfo> = {
    'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true },
  };
  const cidrs: string[] = [];
  for (const entry of insecure) {
    if (entry.includes('/') && !/^https?:\/\//.test(entry)) cidrs.push(entry);
    else {
      const name = entry.replace(/^https?:\/\//, '').replace(/\/$/, '');
      index[name] = { Name: name, Mirrors: [], Secure: false, Official: false };
    }
  }
  return { InsecureRegistryCIDRs: cidrs, IndexConfigs: index, Mirrors: [] };
}
