import { VirtError, type XmlElement } from 'virtkit';
import { elements } from './xml-walk.js';

/** `CONFIG_UNSUPPORTED`: valid XML the qemu driver cannot run. @internal */
export function unsupported(message: string): VirtError {
  return new VirtError('CONFIG_UNSUPPORTED', message);
}

/** `XML_ERROR`: a missing or malformed element. @internal */
export function xmlError(message: string): VirtError {
  return new VirtError('XML_ERROR', message);
}

/**
 * Refuses child elements outside `allowed`, naming the element: an element the driver does
 * not know is one it cannot run.
 *
 * @internal
 */
export function checkChildren(el: XmlElement, where: string, allowed: readonly string[]): void {
  for (const c of elements(el)) {
    if (!allowed.includes(c.name)) {
      throw unsupported(`element <${c.name}> in <${where}> is not supported by the qemu driver`);
    }
  }
}
