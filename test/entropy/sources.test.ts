import { DeviceSource } from "../../src/entropy/device-source.js";
import { OsSource } from "../../src/entropy/os-source.js";
import { describeEntropySource } from "./source-conformance.js";

describeEntropySource({ name: "os", open: async () => new OsSource() });

describeEntropySource({
  name: "device:/dev/urandom",
  open: async (t) => {
    const source = new DeviceSource("/dev/urandom", 4);
    t.after(() => source.close());
    return source;
  },
});
