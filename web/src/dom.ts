// A tiny view layer: build elements from tag, attributes and children; nothing is diffed.

export type Child = Node | string | number | null | undefined | false | Child[];
type Listener = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") {
      element.addEventListener(name.replace(/^on/, ""), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** Shows a message in a live region (role="alert" or "status" set on the element), or hides it. */
export function say(region: HTMLElement, text: string | null): void {
  region.textContent = text ?? "";
  region.hidden = !text;
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** A value from a form field by name. */
export function field(form: HTMLFormElement, name: string): string {
  const value = new FormData(form).get(name);
  return typeof value === "string" ? value : "";
}

/**
 * Re-renders part of the page without losing what the user was doing in it: the focused element,
 * typed values and open <details> are carried over by element id.
 */
export function keepingState(container: HTMLElement, render: () => void): void {
  const active = document.activeElement;
  const focusedId = active instanceof HTMLElement && container.contains(active) ? active.id : "";
  const values = new Map<string, string>();
  const open = new Set<string>();
  for (const element of container.querySelectorAll<HTMLElement>("[id]")) {
    if (element instanceof HTMLInputElement || element instanceof HTMLSelectElement) {
      values.set(element.id, element.value);
    } else if (element instanceof HTMLDetailsElement && element.open) {
      open.add(element.id);
    }
  }
  render();
  for (const [id, value] of values) {
    const element = document.getElementById(id);
    if (element instanceof HTMLInputElement || element instanceof HTMLSelectElement) element.value = value;
  }
  for (const id of open) {
    const element = document.getElementById(id);
    if (element instanceof HTMLDetailsElement) element.open = true;
  }
  if (focusedId) document.getElementById(focusedId)?.focus();
}
