import { validateOwnerId } from '../names.js';
import type { Runtime } from '../app/runtime.js';

export interface OwnerSelection {
  owner?: string | undefined;
  allOwners?: boolean | undefined;
}

/** `--owner ID` (validated), `--all-owners` (configured owners and every owner folder), or the default. */
export async function selectOwners(runtime: Runtime, selection: OwnerSelection): Promise<string[]> {
  if (selection.allOwners) {
    const owners = new Set([
      runtime.config.defaultOwner,
      ...runtime.config.owners,
      ...(await runtime.folder.listOwners()),
    ]);
    return [...owners].sort();
  }
  return [validateOwnerId(selection.owner ?? runtime.config.defaultOwner)];
}
