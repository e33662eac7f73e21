import { z } from 'zod';
import type { RouteModule } from '../web-context.js';
import { HttpError } from '../server/http-error.js';
import { defineRoute, json } from '../server/route.js';
import { ownerId, skillName } from './schemas.js';

const MAX_ARGS = 64;
const MAX_ARG_LENGTH = 4096;

/** `GET /api/skills` and `POST /api/skills/:name/run` (202 with the run id; the rest arrives as events). */
export const skillRoutes: RouteModule = (context) => {
  const skills = () => {
    if (!context.skills) throw new HttpError(503, 'SKILLS_UNAVAILABLE', 'skills cannot run on this daemon');
    return context.skills;
  };
  return [
    defineRoute({
      method: 'GET',
      path: '/api/skills',
      access: 'api',
      handle: () => json(200, skills().list()),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/skills/:name/run',
      access: 'api',
      params: z.strictObject({ name: skillName }),
      body: z.strictObject({
        owner: ownerId.optional(),
        args: z
          .array(
            z
              .string({ error: 'expected a string' })
              .max(MAX_ARG_LENGTH, { error: `must be at most ${MAX_ARG_LENGTH} characters` })
              .refine((value) => !value.includes('\0'), { error: 'must not contain NUL' }),
            { error: 'expected an array of strings' },
          )
          .max(MAX_ARGS, { error: `at most ${MAX_ARGS} arguments` })
          .default([]),
      }),
      handle(request) {
        const owner = request.body.owner ?? context.config.defaultOwner;
        const { runId } = skills().start(request.params.name, owner, request.body.args);
        return json(202, { runId, skill: request.params.name, owner });
      },
    }),
  ];
};
