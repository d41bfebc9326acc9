import { alertsComponent } from "./alerts/component.js";
import type { App } from "./app.js";
import { engineComponent } from "./engine/component.js";
import { marketComponent } from "./exchange/component.js";
import { knowledgeComponent } from "./knowledge/component.js";
import { ordersComponent } from "./orders/component.js";
import { researchComponent } from "./backtest/component.js";

/**
 * An area of the product that hangs services off the App (market data, venues, policy steps,
 * engine, knowledge...). Installed in list order by createApp; each adds its App fields by module
 * augmentation in its own file.
 */
export interface Component {
  name: string;
  install(app: App): void | Promise<void>;
}

/** Components in install order (later ones may use earlier ones' services). */
export const COMPONENTS: Component[] = [
  marketComponent,
  ordersComponent,
  engineComponent,
  knowledgeComponent,
  researchComponent,
  alertsComponent,
];
