import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import type * as NangoSdk from '@nangohq/node';
import type { Nango } from '@nangohq/node';

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
  readonly #settings: NangoApiSettings;
  readonly #callSignal = new AsyncLocalStorage<AbortSignal>();
  /** The SDK is loaded on first use: a sync that finds every token file fresh never needs it. */
  #nango: Nango | null = null;

  constructor(settings: NangoApiSettings) {
    this.#settings = settings;
  }

  #create(NangoClass: typeof Nango): Nango {
    const settings = this.#settings;
    return new NangoClass(
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

  async #call<T>(signal: AbortSignal, run: (nango: Nango) => Promise<T>): Promise<T> {
    this.#nango ??= this.#create((await import('@nangohq/node')).Nango);
    const nango = this.#nango;
    return this.#callSignal.run(signal, () => run(nango));
  }

  getConnection(
    integration: string,
    connectionId: string,
    options: NangoCallOptions & { forceRefresh: boolean; includeRefreshToken: boolean },
  ): Promise<unknown> {
    return this.#call(options.signal, (nango) =>
      nango.getConnection(
        integration,
        // The SDK pastes the id into the path as it is; ids are free text ("team/a", an e-mail).
        encodeURIComponent(connectionId),
        options.forceRefresh,
        options.includeRefreshToken,
      ),
    );
  }

  listConnections(options: NangoCallOptions & { endUserId: string }): Promise<unknown> {
    return this.#call(options.signal, (nango) => nango.listConnections({ userId: options.endUserId }));
  }

  createConnectSession(
    options: NangoCallOptions & { endUserId: string; allowedIntegrations: string[] },
  ): Promise<unknown> {
    return this.#call(options.signal, (nango) =>
      nango.createConnectSession({
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
    await this.#call(options.signal, (nango) =>
      nango.deleteConnection(encodeURIComponent(integration), encodeURIComponent(connectionId)),
    );
  }

  verifyWebhook(rawBody: string, headers: Record<string, unknown>): boolean {
    // Only a server checks webhooks, and it has to answer synchronously: load the SDK the same way.
    this.#nango ??= this.#create((createRequire(import.meta.url)('@nangohq/node') as typeof NangoSdk).Nango);
    return this.#nango.verifyIncomingWebhookRequest(rawBody, headers as Record<string, string>);
  }
}
