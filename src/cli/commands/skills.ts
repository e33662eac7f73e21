import type { SkillProblem } from '../../sandbox/skill-catalog.js';
import { SkillCatalog } from '../../sandbox/skill-catalog.js';
import type { TokenStatus } from '../../tokens/token-sync.js';
import type { CommandResult } from '../command-result.js';
import { EXIT_ERROR, EXIT_OK } from '../../exit-codes.js';
import { selectOwners, type OwnerSelection } from '../owners.js';
import { renderTable } from '../output/table.js';
import type { Runtime } from '../../app/runtime.js';

export interface SkillsCommandOptions extends OwnerSelection {
  signal?: AbortSignal;
}

/** One provider a skill declares, as one owner's token folder stands. */
export interface SkillProviderReadiness {
  provider: string;
  scopes: string[];
  /** nanoclaw.config.yaml configures it (else the skill cannot run). */
  configured: boolean;
  state: TokenStatus['state'] | 'not-configured';
  usable: boolean;
  expiresAt: string | null;
}

export interface SkillListing {
  name: string;
  description: string;
  image: string;
  network: 'none' | 'bridge';
  timeoutSeconds: number;
  owners: Array<{ owner: string; ready: boolean; providers: SkillProviderReadiness[] }>;
}

/** `nanoclaw skills`: the skills, their providers, and whether each owner's tokens are ready (asks no source). */
export async function skillsCommand(runtime: Runtime, options: SkillsCommandOptions): Promise<CommandResult> {
  const catalog = await SkillCatalog.load(runtime.config.skillsDir, options.signal, {
    limits: runtime.config.sandbox.limits,
  });
  const owners = await selectOwners(runtime, options);
  const statusByOwner = new Map<string, Map<string, TokenStatus>>();
  for (const owner of owners) {
    const statuses = await runtime.tokenSync.status(owner);
    statusByOwner.set(owner, new Map(statuses.map((status) => [status.provider, status])));
  }

  const skills: SkillListing[] = catalog.list().map((skill) => ({
    name: skill.name,
    description: skill.description,
    image: skill.image ?? runtime.config.sandbox.image,
    network: runtime.config.sandbox.network === 'none' ? 'none' : skill.network,
    timeoutSeconds: skill.timeoutSeconds,
    owners: owners.map((owner) => {
      const providers = skill.providers.map((declared): SkillProviderReadiness => {
        const status = statusByOwner.get(owner)?.get(declared.name);
        return status
          ? {
              provider: declared.name,
              scopes: declared.scopes,
              configured: true,
              state: status.state,
              usable: status.usable,
              expiresAt: status.expiresAt,
            }
          : {
              provider: declared.name,
              scopes: declared.scopes,
              configured: false,
              state: 'not-configured',
              usable: false,
              expiresAt: null,
            };
      });
      return { owner, ready: providers.every((provider) => provider.usable), providers };
    }),
  }));
  const problems = catalog.problems();

  return {
    exitCode: problems.length > 0 ? EXIT_ERROR : EXIT_OK,
    json: { skills, problems },
    text: renderSkills(skills, problems, runtime.config.skillsDir),
  };
}

function renderSkills(
  skills: readonly SkillListing[],
  problems: readonly SkillProblem[],
  dir: string,
): string {
  const parts: string[] = [];
  if (skills.length === 0 && problems.length === 0) parts.push(`No skills in ${dir}.`);
  if (skills.length > 0) {
    parts.push(
      renderTable(
        ['SKILL', 'OWNER', 'READY', 'PROVIDERS'],
        skills.flatMap((skill) =>
          skill.owners.map((owner) => [
            skill.name,
            owner.owner,
            owner.ready ? 'yes' : 'no',
            owner.providers.length === 0
              ? '-'
              : owner.providers.map((provider) => `${provider.provider} (${provider.state})`).join(', '),
          ]),
        ),
      ),
    );
  }
  for (const problem of problems) {
    parts.push(`invalid skill ${problem.skill} (${problem.file}):\n  ${problem.problems.join('\n  ')}`);
  }
  return parts.join('\n\n');
}
