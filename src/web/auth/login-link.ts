/** `/?token=<one-time code>[&next=<path>]`: logs the browser in, then goes on to `next`. */
export function loginLink(publicUrl: string, code: string, next?: string): string {
  const query = new URLSearchParams({ token: code });
  if (next !== undefined) query.set('next', next);
  return `${publicUrl}/?${query.toString()}`;
}
