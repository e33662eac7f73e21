import { z } from 'zod';
import { UnknownProviderError } from '../../errors.js';
import { SCOPE_PATTERN } from '../../names.js';
import { MAX_LAUNCH_PROVIDERS } from '../../sandbox/launch-preparer.js';
import { HttpError } from '../server/http-error.js';
import { defineRoute, json } from '../server/route.js';
import type { RouteModule } from '../web-context.js';
import { ownerId, providerName, skillName } from './schemas.js';

const MAX_SCOPES = 64;
const MAX_SCOPE_LENGTH = 512;

const scope = z
  .string({ error: 'expected a scope' })
  .max(MAX_SCOPE_LENGTH, { error: `must be at most ${MAX_SCOPE_LENGTH} characters` })
  .regex(SCOPE_PATTERN, { error: 'expected a scope: visible ASCII without spaces or commas' });

/** A provider named in a body that the configuration lacks is bad input, not a missing resource. */
function asBadRequest(error: unknown): never {
  if (error instanceof UnknownProviderError) throw new HttpError(400, error.code, error.message);
  throw error;
}

/**
 * The launch API for hosts that run their own containers: `POST /api/launches` prepares a launch as
 * the library's `prepareLaunch` does, and `POST /api/prompts` asks the owner to authorize as a
 * skill's AUTH_REQUIRED line would (an `auth_required` event, the page's dialog).
 */
export const launchRoutes: RouteModule = (context) => [
  defineRoute({
    method: 'POST',
    path: '/api/launches',
    access: 'api',
    body: z.strictObject({
      owner: ownerId,
      providers: z
        .array(providerName, { error: 'expected an array of provider names' })
        .max(MAX_LAUNCH_PROVIDERS, { error: `at most ${MAX_LAUNCH_PROVIDERS} providers` }),
    }),
    async handle(request) {
      const launch = await context.launches
        .prepare({ owner: request.body.owner, providers: request.body.providers, signal: request.signal })
        .catch(asBadRequest);
      return json(200, launch);
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/prompts',
    access: 'api',
    body: z.strictObject({
      owner: ownerId,
      provider: providerName,
      scopes: z
        .array(scope, { error: 'expected an array of scopes' })
        .max(MAX_SCOPES, { error: `at most ${MAX_SCOPES} scopes` })
        .optional(),
      skill: skillName.optional(),
    }),
    async handle(request) {
      const { owner, provider: name, skill } = request.body;
      let provider;
      try {
        provider = context.tokenSync.provider(name);
      } catch (error) {
        asBadRequest(error);
      }
      const prompt = await context.prompter.announce({
        owner,
        provider: provider.name,
        scopes: request.body.scopes ?? provider.scopes,
        skill: skill ?? null,
        runId: null,
        signal: request.signal,
      });
      return json(200, prompt);
    },
  }),
];
