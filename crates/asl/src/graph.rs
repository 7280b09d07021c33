//! Drawing a state machine: Mermaid flowcharts and Graphviz DOT.
//!
//! Parallel branches and Map item processors become nested subgraphs (clusters); a Parallel
//! or Map state has an entry node and a join node the branches flow back into.

use std::fmt::Write as _;

use crate::model::{StateKind, StateMachine, Transition};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Terminal,
    Task,
    Decision,
    Join,
}

struct Node {
    id: String,
    label: String,
    shape: Shape,
}

struct Edge {
    from: String,
    to: String,
    label: Option<String>,
    dashed: bool,
}

struct Cluster {
    id: String,
    label: String,
    nodes: Vec<Node>,
    clusters: Vec<Cluster>,
}

struct Graph {
    root: Cluster,
    edges: Vec<Edge>,
    next_id: usize,
}

impl Graph {
    fn fresh(&mut self) -> String {
        self.next_id += 1;
        format!("n{}", self.next_id)
    }
}

/// Lays out one machine inside `cluster`; returns (entry node id, ids of nodes that end it).
/// A Parallel or Map state `id`: its node, a join node (returned) and one sub-cluster per
/// nested machine, with edges from the state into each (labelled) and from each end to the
/// join.
fn fan_out(
    g: &mut Graph,
    cluster: &mut Cluster,
    id: &str,
    label: String,
    name: &str,
    machines: Vec<(String, &StateMachine, Option<&str>)>,
) -> String {
    cluster.nodes.push(Node {
        id: id.to_string(),
        label,
        shape: Shape::Task,
    });
    let join = g.fresh();
    cluster.nodes.push(Node {
        id: join.clone(),
        label: format!("{name} done"),
        shape: Shape::Join,
    });
    for (sub_label, machine, edge_label) in machines {
        let mut sub = Cluster {
            id: g.fresh(),
            label: sub_label,
            nodes: vec![],
            clusters: vec![],
        };
        let (entry, sub_ends) = layout(g, machine, &mut sub);
        cluster.clusters.push(sub);
        g.edges.push(Edge {
            from: id.to_string(),
            to: entry,
            label: edge_label.map(str::to_string),
            dashed: false,
        });
        for e in sub_ends {
            g.edges.push(Edge {
                from: e,
                to: join.clone(),
                label: None,
                dashed: false,
            });
        }
    }
    join
}

fn layout(g: &mut Graph, machine: &StateMachine, cluster: &mut Cluster) -> (String, Vec<String>) {
    let ids: indexmap::IndexMap<&str, String> = machine
        .states
        .keys()
        .map(|k| (k.as_str(), g.fresh()))
        .collect();
    let mut ends = Vec::new();
    for (name, state) in &machine.states {
        let id = ids[name.as_str()].clone();
        let label = format!("{name}\n{}", state.kind.type_name());
        // Where control continues after this state (the join node for Parallel/Map).
        let mut exit_id = id.clone();
        match &state.kind {
            StateKind::Choice(choice) => {
                cluster.nodes.push(Node {
                    id: id.clone(),
                    label,
                    shape: Shape::Decision,
                });
                for (i, branch) in choice.choices.iter().enumerate() {
                    if let Some(to) = ids.get(branch.next.as_str()) {
                        g.edges.push(Edge {
                            from: id.clone(),
                            to: to.clone(),
                            label: Some(rule_label(branch, i)),
                            dashed: false,
                        });
                    }
                }
                if let Some(to) = choice.default.as_deref().and_then(|d| ids.get(d)) {
                    g.edges.push(Edge {
                        from: id.clone(),
                        to: to.clone(),
                        label: Some("Default".into()),
                        dashed: false,
                    });
                }
            }
            StateKind::Succeed | StateKind::Fail(_) => {
                cluster.nodes.push(Node {
                    id: id.clone(),
                    label,
                    shape: Shape::Terminal,
                });
                ends.push(id.clone());
            }
            StateKind::Parallel(par) => {
                let branches = par.branches.iter().enumerate();
                let subs = branches.map(|(i, b)| (format!("{name}: branch {i}"), b, None));
                exit_id = fan_out(g, cluster, &id, label, name, subs.collect());
            }
            StateKind::Map(map) => {
                let each = (format!("{name}: each item"), &map.processor, Some("items"));
                exit_id = fan_out(g, cluster, &id, label, name, vec![each]);
            }
            _ => cluster.nodes.push(Node {
                id: id.clone(),
                label,
                shape: Shape::Task,
            }),
        }
        match &state.transition {
            Transition::Next(next) => {
                if let Some(to) = ids.get(next.as_str()) {
                    g.edges.push(Edge {
                        from: exit_id.clone(),
                        to: to.clone(),
                        label: None,
                        dashed: false,
                    });
                }
            }
            Transition::End => ends.push(exit_id.clone()),
            Transition::None => {}
        }
        let catchers = match &state.kind {
            StateKind::Task(t) => &t.catch[..],
            StateKind::Parallel(p) => &p.catch[..],
            StateKind::Map(m) => &m.catch[..],
            _ => &[][..],
        };
        for c in catchers {
            if let Some(to) = ids.get(c.next.as_str()) {
                g.edges.push(Edge {
                    from: id.clone(),
                    to: to.clone(),
                    label: Some(c.error_equals.join(", ")),
                    dashed: true,
                });
            }
        }
    }
    let entry = ids
        .get(machine.start_at.as_str())
        .cloned()
        .unwrap_or_default();
    (entry, ends)
}

fn build(machine: &StateMachine) -> (Graph, String, Vec<String>) {
    let mut g = Graph {
        root: Cluster {
            id: "root".into(),
            label: String::new(),
            nodes: vec![],
            clusters: vec![],
        },
        edges: vec![],
        next_id: 0,
    };
    let mut root = Cluster {
        id: "root".into(),
        label: String::new(),
        nodes: vec![],
        clusters: vec![],
    };
    let (entry, ends) = layout(&mut g, machine, &mut root);
    g.root = root;
    (g, entry, ends)
}

/// The machine as a Mermaid flowchart.
pub fn mermaid(machine: &StateMachine) -> String {
    let (g, entry, ends) = build(machine);
    let mut out = String::from("flowchart TD\n    start((start))\n    finish((end))\n");
    write_mermaid_cluster(&mut out, &g.root, 1);
    let _ = writeln!(out, "    start --> {entry}");
    for e in &ends {
        let _ = writeln!(out, "    {e} --> finish");
    }
    for e in &g.edges {
        let arrow = match (&e.label, e.dashed) {
            (Some(l), true) => format!("-. \"{}\" .->", mermaid_escape(l)),
            (Some(l), false) => format!("-- \"{}\" -->", mermaid_escape(l)),
            (None, true) => "-.->".to_string(),
            (None, false) => "-->".to_string(),
        };
        let _ = writeln!(out, "    {} {arrow} {}", e.from, e.to);
    }
    out
}

fn write_mermaid_cluster(out: &mut String, c: &Cluster, depth: usize) {
    let pad = "    ".repeat(depth);
    for n in &c.nodes {
        let label = mermaid_escape(&n.label).replace('\n', "<br/>");
        let shaped = match n.shape {
            Shape::Task => format!("[\"{label}\"]"),
            Shape::Decision => format!("{{\"{label}\"}}"),
            Shape::Terminal => format!("([\"{label}\"])"),
            Shape::Join => format!("[/\"{label}\"\\]"),
        };
        let _ = writeln!(out, "{pad}{}{shaped}", n.id);
    }
    for sub in &c.clusters {
        let _ = writeln!(
            out,
            "{pad}subgraph {}[\"{}\"]",
            sub.id,
            mermaid_escape(&sub.label)
        );
        write_mermaid_cluster(out, sub, depth + 1);
        let _ = writeln!(out, "{pad}end");
    }
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// The machine as a Graphviz DOT digraph.
pub fn dot(machine: &StateMachine, name: &str) -> String {
    let (g, entry, ends) = build(machine);
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n",
        dot_escape(name)
    );
    out.push_str(
        "  start [shape=circle, label=\"start\"];\n  finish [shape=doublecircle, label=\"end\"];\n",
    );
    write_dot_cluster(&mut out, &g.root, 1);
    let _ = writeln!(out, "  start -> {entry};");
    for e in &ends {
        let _ = writeln!(out, "  {e} -> finish;");
    }
    for e in &g.edges {
        let mut attrs = Vec::new();
        if let Some(l) = &e.label {
            attrs.push(format!("label=\"{}\"", dot_escape(l)));
        }
        if e.dashed {
            attrs.push("style=dashed".to_string());
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(out, "  {} -> {}{attrs};", e.from, e.to);
    }
    out.push_str("}\n");
    out
}

fn write_dot_cluster(out: &mut String, c: &Cluster, depth: usize) {
    let pad = "  ".repeat(depth);
    for n in &c.nodes {
        let shape = match n.shape {
            Shape::Task => "box",
            Shape::Decision => "diamond",
            Shape::Terminal => "oval",
            Shape::Join => "invtrapezium",
        };
        let _ = writeln!(
            out,
            "{pad}{} [shape={shape}, label=\"{}\"];",
            n.id,
            dot_escape(&n.label)
        );
    }
    for sub in &c.clusters {
        let _ = writeln!(out, "{pad}subgraph cluster_{} {{", sub.id);
        let _ = writeln!(out, "{pad}  label=\"{}\";", dot_escape(&sub.label));
        write_dot_cluster(out, sub, depth + 1);
        let _ = writeln!(out, "{pad}}}");
    }
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A choice rule's edge label: a JSONata rule shows its Condition (shortened), a JSONPath
/// rule its position.
fn rule_label(branch: &crate::model::ChoiceBranch, i: usize) -> String {
    const MAX: usize = 40;
    match &branch.condition {
        Some(crate::query::Jsonata::Expression(e)) => {
            let text: String = e.source().chars().take(MAX).collect();
            if e.source().chars().count() > MAX {
                format!("{text}...")
            } else {
                text
            }
        }
        Some(crate::query::Jsonata::Literal(v)) => v.to_string(),
        _ => format!("rule {}", i + 1),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_jsonata_choice_labels_its_edges_with_the_conditions() {
        let m = crate::load(&json!({
            "QueryLanguage": "JSONata", "StartAt": "C",
            "States": {
                "C": {"Type": "Choice", "Default": "D",
                      "Choices": [{"Condition": "{% $states.input.n > 1 %}", "Next": "D"}]},
                "D": {"Type": "Succeed"}
            }
        }))
        .expect("valid");
        let g = super::mermaid(&m);
        assert!(
            g.contains("$states.input.n &gt; 1") || g.contains("$states.input.n > 1"),
            "{g}"
        );
    }
}
