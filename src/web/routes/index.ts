import type { RouteModule } from '../web-context.js';
import { builtinOAuthRoutes } from './builtin-oauth-routes.js';
import { connectionRoutes } from './connection-routes.js';
import { eventRoutes } from './event-routes.js';
import { launchRoutes } from './launch-routes.js';
import { pageRoutes } from './page-routes.js';
import { sessionRoutes } from './session-routes.js';
import { skillRoutes } from './skill-routes.js';
import { statusRoutes } from './status-routes.js';
import { webhookRoutes } from './webhook-routes.js';

/** Every route the daemon serves, one module per concern; new concerns add theirs here. */
export const routeModules: readonly RouteModule[] = [
  pageRoutes,
  sessionRoutes,
  statusRoutes,
  eventRoutes,
  connectionRoutes,
  webhookRoutes,
  skillRoutes,
  launchRoutes,
  builtinOAuthRoutes,
];
