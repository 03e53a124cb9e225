//! The stand-in's answers for planned repositories: a template plan of three files (a network,
//! synthetic data, an entry point that follows the training contract) and the template of each
//! planned file, read from the plan in the prompt, so that a plan a user edited (a renamed file)
//! still gives a repository whose imports hold. Templates, marked as such: not generation.

use activities::clients::llm::STANDIN_MARKER;
use serde_json::{Value, json};

use crate::templates::field;

/// The template plan. The paper's first section titles (from the prompt's structure) are what
/// the network's file "implements", so the plan reads as this paper's.
pub fn plan(user: &str) -> String {
    let sections: Vec<String> = user
        .split_once("<paper-structure>")
        .map(|(_, rest)| rest.split("</paper-structure>").next().unwrap_or(""))
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .take(2)
        .map(|s| s.chars().take(120).collect())
        .collect();
    json!({
        "summary": format!("{STANDIN_MARKER}: template plan from the Bedrock stand-in; no model read the paper. A two-layer network trained on synthetic data, laid out as a planned repository."),
        "components": [
            {"name": "PaperNet", "description": "a two-layer network (template)", "connects_to": ["training loop"]},
            {"name": "data", "description": "synthetic binary classification data (template)", "connects_to": ["training loop"]},
            {"name": "training loop", "description": "Adam on a logistic loss, validation each epoch (template)", "connects_to": []}
        ],
        "files": [
            {"path": "model.py", "responsibility": "The network (stand-in template).",
             "interfaces": ["class PaperNet(nn.Module): __init__(self, in_features: int, hidden: int); forward(self, x)"],
             "depends_on": [], "sections": sections},
            {"path": "data.py", "responsibility": "Synthetic data shaped like the paper's (stand-in template).",
             "interfaces": ["def load_data(config: dict) -> (X_train, y_train, X_val, y_val)"],
             "depends_on": [], "sections": []},
            {"path": "train.py", "responsibility": "Entry point: the training contract and the METRICS lines (stand-in template).",
             "interfaces": ["def train_model(X_train, y_train, X_val, y_val, device, **hyperparams) -> (model, metrics)", "def main()"],
             "depends_on": ["model.py", "data.py"], "sections": []}
        ],
        "entry": "train.py",
        "logs": ["epoch", "loss", "val_loss", "val_accuracy"],
        "config": {
            "hyperparameters": {
                "lr": {"value": 0.01, "source": "stand-in default"},
                "hidden": {"value": 32, "source": "stand-in default"},
                "epochs": {"value": 3, "source": "stand-in default"}
            },
            "search_space": [
                {"name": "lr", "type": "float", "low": 0.001, "high": 0.1, "log": true},
                {"name": "hidden", "type": "int", "low": 8, "high": 64}
            ],
            "dataset": {"name": "synthetic", "notes": "stand-in template"}
        },
        "requirements": ["torch", "numpy", "pyyaml"],
        "assumptions": [format!("{STANDIN_MARKER}: every choice here is the stand-in's template, not the paper's")]
    })
    .to_string()
}

/// The template advice from related papers: names the papers the prompt carried.
pub fn related_work(user: &str) -> String {
    let titles: Vec<String> = user
        .split("<related-paper ")
        .skip(1)
        .filter_map(|p| p.split("title=\"").nth(1))
        .filter_map(|t| t.split('"').next())
        .map(|t| t.chars().filter(|c| !c.is_control()).take(150).collect())
        .collect();
    format!(
        "{STANDIN_MARKER}: template advice from the Bedrock stand-in; no model read these papers.\n\n{}\n",
        titles
            .iter()
            .map(|t| format!(
                "- {t}: (template) compare its learning rate and width with this paper's."
            ))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// The plan in a prompt (between `<plan>` and `</plan>`), if there is one that reads.
fn plan_in(user: &str) -> Option<Value> {
    let (_, rest) = user.split_once("<plan>")?;
    let (json, _) = rest.split_once("</plan>")?;
    serde_json::from_str(json.trim()).ok()
}

/// The module name of a repository path (`layers/attn.py` → `layers.attn`).
fn module(path: &str) -> String {
    path.trim_end_matches(".py").replace('/', ".")
}

fn identifier(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The first class a planned file declares (`class Name…`).
fn class_of(file: &Value) -> Option<String> {
    file["interfaces"].as_array()?.iter().find_map(|i| {
        let rest = i.as_str()?.trim().strip_prefix("class ")?;
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        identifier(&name).then_some(name)
    })
}

fn declares(file: &Value, name: &str) -> bool {
    file["interfaces"].as_array().is_some_and(|is| {
        is.iter()
            .any(|i| i.as_str().is_some_and(|s| s.contains(name)))
    })
}

/// The template of the file the prompt asks for (`Write the file: …` or, for a fix,
/// `Repository file: …`), from the plan in the prompt; `None` when the prompt has neither.
pub fn file(user: &str, defects: &[String], broken: bool) -> Option<String> {
    let path = field(user, "Write the file: ").or_else(|| field(user, "Repository file: "))?;
    let plan = plan_in(user)?;
    let files = plan["files"].as_array()?;
    let me = files.iter().find(|f| f["path"] == path.as_str())?;
    let target = field(user, "Target: ").unwrap_or_else(|| "cpu".into());
    let title = field(user, "Paper: ").unwrap_or_default();
    let entry = plan["entry"].as_str().unwrap_or("train.py");
    let code = if path == entry {
        let model = files.iter().find(|f| class_of(f).is_some());
        let data = files.iter().find(|f| declares(f, "load_data"));
        let mut code = train(&title, &target, model, data);
        for defect in defects {
            code = match defect.as_str() {
                "missing-import" => code.replacen("import json\n", "", 1),
                "missing-mark-step" => code.replacen("        xm.mark_step()\n", "", 1),
                "missing-module" => code.replacen("import json\n", "import json\nimport einops\n", 1),
                "runtime-error" => code.replacen(
                    "    loss_fn = nn.BCEWithLogitsLoss()\n",
                    "    loss_fn = nn.BCEWithLogitsLoss()\n    raise RuntimeError(\"stand-in defect: the loss is not set up\")\n",
                    1,
                ),
                _ => code,
            };
        }
        if broken {
            code = code.replacen("flush=True)", "flush=True", 1);
        }
        code
    } else if declares(me, "load_data") {
        DATA.replace("MARKER", STANDIN_MARKER)
    } else if let Some(class) = class_of(me) {
        MODEL
            .replace("MARKER", STANDIN_MARKER)
            .replace("CLASS", &class)
    } else {
        format!(
            "# {STANDIN_MARKER}: template module from the Bedrock stand-in, not generated by a model.\n\"\"\"{}\"\"\"\n",
            module(&path)
        )
    };
    Some(code)
}

const MODEL: &str = r#"# MARKER: template code from the Bedrock stand-in, not generated by a model.
"""CLASS: a two-layer network (template)."""
from torch import nn


class CLASS(nn.Module):
    def __init__(self, in_features, hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)
"#;

const DATA: &str = r#"# MARKER: template code from the Bedrock stand-in, not generated by a model.
"""Synthetic data shaped like the paper's (template): a linearly separable binary task."""
import torch


def load_data(config):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(640, 16, generator=g)
    y = (x @ torch.randn(16, 1, generator=g) > 0).float()
    return x[:512], y[:512], x[512:], y[512:]
"#;

/// The entry point: the training contract over the planned network and data.
fn train(title: &str, target: &str, model: Option<&Value>, data: Option<&Value>) -> String {
    let title: String = title
        .chars()
        .filter(|c| !c.is_control())
        .take(150)
        .collect();
    let (imports, device, step) = crate::templates::target_parts(target);
    let path_of = |f: Option<&Value>, default: &str| {
        f.and_then(|f| f["path"].as_str())
            .map(module)
            .unwrap_or_else(|| default.to_owned())
    };
    let class = model
        .and_then(class_of)
        .unwrap_or_else(|| "PaperNet".into());
    let script = r#"# MARKER: template code from the Bedrock stand-in, not generated by a model.
# Paper: TITLE
"""Entry point: trains CLASS on load_data's data; one METRICS line per epoch.

The training contract: load_data(config) and train_model(...) -> (model, metrics)."""
import json
import os

import torch
import yaml
from torch import nn
IMPORTS
from DATA_MODULE import load_data
from MODEL_MODULE import CLASS


def train_model(X_train, y_train, X_val, y_val, device, **hyperparams):
    torch.manual_seed(0)
    lr = float(hyperparams.get("lr", 0.01))
    hidden = int(hyperparams.get("hidden", 32))
    epochs = int(hyperparams.get("epochs", 3))
    model = CLASS(X_train.shape[1], hidden).to(device)
    X_train, y_train = X_train.to(device), y_train.to(device)
    X_val, y_val = X_val.to(device), y_val.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    metrics = {"train_loss": [], "val_loss": [], "val_accuracy": 0.0}
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(X_train), y_train)
        loss.backward()
STEP
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            val_loss = loss_fn(logits, y_val).item()
            accuracy = ((logits > 0).float() == y_val).float().mean().item()
        metrics["train_loss"].append(round(loss.item(), 4))
        metrics["val_loss"].append(round(val_loss, 4))
        metrics["val_accuracy"] = round(accuracy, 4)
        line = {"epoch": epoch, "loss": round(loss.item(), 4), "val_loss": round(val_loss, 4), "val_accuracy": round(accuracy, 4)}
        print("METRICS: " + json.dumps(line), flush=True)
    return model, metrics


def main():
    with open("config.yaml") as f:
        config = yaml.safe_load(f)
    device = DEVICE
    X_train, y_train, X_val, y_val = load_data(config)
    _, metrics = train_model(X_train, y_train, X_val, y_val, device, **config["hyperparameters"])
    os.makedirs("output", exist_ok=True)
    with open("output/final_metrics.json", "w") as f:
        json.dump(metrics, f)


if __name__ == "__main__":
    main()
"#;
    script
        .replace("MARKER", STANDIN_MARKER)
        .replace("IMPORTS\n", imports)
        .replace("DEVICE", device)
        .replace("STEP\n", step)
        .replace("DATA_MODULE", &path_of(data, "data"))
        .replace("MODEL_MODULE", &path_of(model, "model"))
        .replace("CLASS", &class)
        .replace("TITLE", &title) // last, so a title cannot inject a placeholder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_file_is_imported_by_its_new_name() {
        let mut plan: Value =
            serde_json::from_str(&plan("<paper-structure>\n- 1 Intro\n</paper-structure>"))
                .unwrap();
        assert_eq!(plan["files"][0]["sections"][0], "1 Intro");
        plan["files"][0]["path"] = "network.py".into();
        let prompt = format!("Target: cpu\n<plan>\n{plan}\n</plan>\nWrite the file: train.py");
        let code = file(&prompt, &[], false).unwrap();
        assert!(code.contains("from network import PaperNet"), "{code}");
        assert!(code.contains("from data import load_data"), "{code}");
        let prompt = format!("<plan>\n{plan}\n</plan>\nWrite the file: network.py");
        assert!(
            file(&prompt, &[], false)
                .unwrap()
                .contains("class PaperNet(nn.Module)")
        );
        assert!(file("Write the file: x.py", &[], false).is_none());
    }
}
