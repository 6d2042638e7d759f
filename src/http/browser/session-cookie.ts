import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";

/**
 * The cookie that carries a page's session id: HttpOnly (the page's scripts never read it) and
 * SameSite=Strict (another site's page never sends it). Over HTTPS it is also Secure, under the
 * `__Host-` prefix, so no other name or plain-HTTP page can set it.
 */
export class SessionCookie {
  readonly name: string;

  constructor(
    name: string,
    private readonly options: { readonly secure: boolean; readonly maxAgeSeconds?: number },
  ) {
    this.name = options.secure ? `__Host-${name}` : name;
  }

  read(c: Context): string | undefined {
    return getCookie(c, this.name);
  }

  write(c: Context, id: string): void {
    setCookie(c, this.name, id, {
      path: "/",
      httpOnly: true,
      sameSite: "Strict",
      ...(this.options.secure ? { secure: true } : {}),
      ...(this.options.maxAgeSeconds === undefined ? {} : { maxAge: this.options.maxAgeSeconds }),
    });
  }
}
