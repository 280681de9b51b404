// Building DOM nodes from data: text from the API is set as text, never parsed as HTML.

/**
 * el("p", {class: "hint", id: "x"}, "text", child) creates <p class="hint" id="x">text…</p>.
 * Attributes whose value is null, undefined or false are left out; true sets them empty.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function byId(id) {
  const node = document.getElementById(id);
  if (node === null) {
    throw new Error(`the page has no element #${id}`);
  }
  return node;
}
