// The dashboard model obstack writes, in Grafana's published types (@grafana/schema, pinned to the
// Grafana the stack runs). tests/test_dashboard_types.py writes each generated dashboard as
// `export const dashboard: StrictDashboard = <its JSON>;` and type-checks it with tsc: an unknown key
// (excess property), a missing required one or a value outside its type is an error.
//
// Stricter than the published `Dashboard` type: each panel's `options` and field `custom` options
// are the published types of its plugin (the package's panelcfg types), not `Record<string, unknown>`,
// and Elasticsearch queries are the published ElasticsearchDataQuery.
//
// Tolerated (documented in docs/dashboards.md, "Type check"):
// - `definition` on variables: Grafana's variable editor saves the query's text there; the published
//   VariableModel lacks it.
// - Prometheus and Jaeger queries: @grafana/schema 11.6 publishes no type for them (they live in the
//   datasource plugins), so only the common DataQuery fields are checked and other keys pass.
import type {
  DataQuery,
  DataSourceRef,
  Dashboard,
  FieldConfig,
  FieldConfigSource,
  Panel,
  RowPanel,
  VariableModel,
} from '@grafana/schema';
import type { ElasticsearchDataQuery } from '@grafana/schema/dist/esm/raw/composable/elasticsearch/dataquery/x/ElasticsearchDataQuery_types.gen.js';
import type * as Logs from '@grafana/schema/dist/esm/raw/composable/logs/panelcfg/x/LogsPanelCfg_types.gen.js';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen.js';
import type * as Table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen.js';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen.js';

// The JSON form of a type: a string enum is written as one of its values.
type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends Array<infer Item>
      ? Array<Json<Item>>
      : T extends object
        ? { [Key in keyof T]: Json<T[Key]> }
        : T;

type Query = Omit<DataQuery, 'datasource'> & { datasource?: DataSourceRef };
type AnyQuery = Query & Record<string, unknown>; // Prometheus, Jaeger: no published query type

type PanelOf<Type extends string, Options, Custom, Target> = Omit<Panel, 'type' | 'options' | 'fieldConfig' | 'targets'> & {
  type: Type;
  options: Options;
  fieldConfig: Omit<FieldConfigSource, 'defaults'> & { defaults: Omit<FieldConfig, 'custom'> & { custom?: Custom } };
  targets: Target[];
};
type NoFieldOptions = Record<string, never>; // the plugin has no field options

export type StrictPanel =
  | PanelOf<'stat', Stat.Options, NoFieldOptions, AnyQuery>
  | PanelOf<'timeseries', TimeSeries.Options, TimeSeries.FieldConfig, AnyQuery>
  | PanelOf<'table', Table.Options, Table.FieldConfig, AnyQuery>
  | PanelOf<'logs', Logs.Options, NoFieldOptions, Omit<ElasticsearchDataQuery, 'datasource'> & { datasource: DataSourceRef }>;

type StrictRow = Omit<RowPanel, 'panels'> & { panels: StrictPanel[] };
type Variable = VariableModel & { definition?: string };

export type StrictDashboard = Json<
  Omit<Dashboard, 'panels' | 'templating'> & {
    panels: Array<StrictPanel | StrictRow>;
    templating: { list: Variable[] };
  }
>;
