import type { Actor } from "../auth/actor.js";
import type { BindingApi } from "../binding/api.js";
import { bindingCompanion } from "../binding/companion.js";
import type { DeviceRoleServer } from "../binding/device-role.js";
import type { ControlUnit } from "../element/control-unit.js";
import { type Element, type ElementOptions, openElement } from "../element/element.js";
import { enrollmentCompanion } from "../enrollment/companion.js";
import { Courier } from "../enrollment/courier.js";
import type { LoadLogWitness } from "../enrollment/log-witness.js";

/** A direct reset waits this long for the registry to take its succession or retirement (§10.9). */
const DIRECT_DELIVERY_MS = 5000;

/**
 * The identity log's checks of the registry's answers (docs/spec.md §10.12), handed to the
 * enrollment, which cannot import the registry's code itself; loaded only when an enrollment
 * verifies the log.
 */
export const loadLogWitness: LoadLogWitness = () => import("../registry/log/element-check.js");

/**
 * The element with what lives beside its identifier: the bindings listen to its lifecycle, so a
 * reset or erase tells the bound devices with the old key first and drops the bindings file after;
 * the enrollment signs a succession or retirement for the registry before the change and `courier`
 * delivers it after. The daemon and the CLI's direct path open the element this way alike.
 */
export async function openComposedElement(options: ElementOptions, courier?: Courier): Promise<Element> {
  const element = await openElement(options);
  const { control } = element;
  control.onLifecycle(
    bindingCompanion(
      control.storeDirectory,
      (event) => control.announce(event),
      () => control.time(),
    ),
  );
  // The CLI's direct path tries once after the change; what the registry did not take stays pending.
  const delivery =
    courier ??
    new Courier(control.storeDirectory, () => control.time(), {
      retry: false,
      timeoutMs: DIRECT_DELIVERY_MS,
      witness: loadLogWitness,
    });
  control.onLifecycle(enrollmentCompanion(control.storeDirectory, () => control.time(), delivery));
  return element;
}

/**
 * The binding operations on an open element, acting for `actor`, with the bindings file in the
 * store directory. The binding code loads only now (device-role.ts above is a type import).
 */
export async function openBinding(
  control: ControlUnit,
  storeDirectory: string,
  actor: Actor,
  /** The device role the daemon serves, if any: `reid pair` opens its window. */
  device: () => DeviceRoleServer | null = () => null,
): Promise<BindingApi> {
  const { BindingService } = await import("../binding/service.js");
  return new BindingService(control, storeDirectory, actor, device);
}
