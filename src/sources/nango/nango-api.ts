import { AsyncLocalStorage } from 'node:async_hooks';
import { Nango } from '@nangohq/node';

export interface NangoCallOptions {
  signal: AbortSignal;
}

/** The part of Nango we use, behind our own interface; answers are raw and validated by the caller. */
export interface NangoApi {
  getConnection(
    integration: string,
    connectionId: string,
    options: NangoCallOptions & { forceRefresh: boolean; includeRefreshToken: boolean },
  ): Promise<unknown>;
  listConnections(options: NangoCallOptions & { endUserId: string }): Promise<unknown>;
  createConnectSession(
    options: NangoCallOptions & { endUserId: string; allowedIntegrations: string[] },
  ): Promise<unknown>;
  deleteConnection(integration: string, connectionId: string, options: NangoCallOptions): Promise<void>;
  verifyWebhook(rawBody: string, headers: Record<string, unknown>): boolean;
}

export interface NangoApiSettings {
  host: string;
  secretKey: string;
  webhookSigningKey: string | null;
  timeoutMs: number;
}

/**
 * The SDK's axios instance takes neither a signal nor a timeout per call; the signal rides along in
 * async context and a request interceptor attaches it, so every call can be cancelled.
 */
export class SdkNangoApi implements NangoApi {
  readonly #nango: Nango;
  readonly #callSignal = new AsyncLocalStorage<AbortSignal>();

  constructor(settings: NangoApiSettings) {
    this.#nango = new Nango(
      {
        host: settings.host,
        secretKey: settings.secretKey,
        ...(settings.webhookSigningKey ? { webhookSigningKey: settings.webhookSigningKey } : {}),
      },
      {
        interceptors: {
          request: (config) => {
            config.timeout = settings.timeoutMs;
            const signal = this.#callSignal.getStore();
            if (signal) config.signal = signal;
            return config;
          },
        },
      },
    );
  }

  #call<T>(signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    return this.#callSignal.run(signal, run);
  }

  getConnection(
    integration: string,
    connectionId: string,
    options: NangoCallOptions & { forceRefresh: boolean; includeRefreshToken: boolean },
  ): Promise<unknown> {
    return this.#call(options.signal, () =>
      this.#nango.getConnection(
        integration,
        // The SDK pastes the id into the path as it is; ids are free text ("team/a", an e-mail).
        encodeURIComponent(connectionId),
        options.forceRefresh,
        options.includeRefreshToken,
      ),
    );
  }

  listConnections(options: NangoCallOptions & { endUserId: string }): Promise<unknown> {
    return this.#call(options.signal, () => this.#nango.listConnections({ userId: options.endUserId }));
  }

  createConnectSession(
    options: NangoCallOptions & { endUserId: string; allowedIntegrations: string[] },
  ): Promise<unknown> {
    return this.#call(options.signal, () =>
      this.#nango.createConnectSession({
        end_user: { id: options.endUserId },
        allowed_integrations: options.allowedIntegrations,
      }),
    );
  }

  async deleteConnection(
    integration: string,
    connectionId: string,
    options: NangoCallOptions,
  ): Promise<void> {
    // The SDK puts both values into the URL as they are.
    await this.#call(options.signal, () =>
      this.#nango.deleteConnection(encodeURIComponent(integration), encodeURIComponent(connectionId)),
    );
  }

  verifyWebhook(rawBody: string, headers: Record<string, unknown>): boolean {
    return this.#nango.verifyIncomingWebhookRequest(rawBody, headers as Record<string, string>);
  }
}
