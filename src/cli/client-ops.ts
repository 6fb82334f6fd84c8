/** Shared plumbing of the commands that talk to a running cluster. */
import { PaxchainClient, parseEndpoints } from '../client/client.js';

export async function withClient<T>(flags: { endpoints?: string; timeout?: number }, work: (client: PaxchainClient) => Promise<T>): Promise<T> {
  const client = new PaxchainClient({ endpoints: parseEndpoints(flags.endpoints), timeoutMs: flags.timeout });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

const strict = new TextDecoder('utf-8', { fatal: true });

/** A value for people: the UTF-8 text, or base64 for bytes that are not text. */
export function displayValue(value: Uint8Array | null): { value: string | null; encoding: 'utf8' | 'base64' } {
  if (value === null) return { value: null, encoding: 'utf8' };
  try {
    return { value: strict.decode(value), encoding: 'utf8' };
  } catch {
    return { value: Buffer.from(value).toString('base64'), encoding: 'base64' };
  }
}
